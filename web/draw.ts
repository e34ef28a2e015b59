/** Drawing for the demo page: score bars, the log-mel spectrogram and the windows x labels heat map. */
import type { Scored } from './protocol.js';

/** Top labels as rows of label, bar and score; data attributes carry the exact score for scripts and tests. */
export function renderLabels(list: HTMLOListElement, labels: readonly Scored[]): void {
  list.replaceChildren(
    ...labels.map(({ label, score }) => {
      const li = document.createElement('li');
      li.dataset.label = label;
      li.dataset.score = String(score);
      const name = document.createElement('span');
      name.textContent = label;
      const bar = document.createElement('span');
      bar.className = 'bar';
      const fill = document.createElement('span');
      fill.style.width = `${Math.max(0, Math.min(1, score)) * 100}%`;
      bar.append(fill);
      const value = document.createElement('span');
      value.className = 'score';
      value.textContent = score.toFixed(4);
      li.append(name, bar, value);
      return li;
    }),
  );
}

/** viridis-like ramp from dark blue to yellow; t in [0, 1]. */
function color(t: number): [number, number, number] {
  const stops: [number, number, number][] = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];
  const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i]!;
  const b = stops[i + 1]!;
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

/** At most this many columns are drawn; longer spectrograms take the max over each column's frames. */
const MAX_COLUMNS = 2048;

/** Log-mel frames [frames, bins] as an image: time left to right, low mel bins at the bottom. */
export function drawSpectrogram(canvas: HTMLCanvasElement, data: Float32Array, frames: number, bins: number): void {
  const columns = Math.max(1, Math.min(frames, MAX_COLUMNS));
  canvas.width = columns;
  canvas.height = bins;
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(columns, bins);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of data) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  // the bottom 60 dB-ish of the range is noise floor: clip it so speech stands out
  lo = Math.max(lo, hi - 14);
  const range = hi - lo || 1;
  for (let c = 0; c < columns; c++) {
    const f0 = Math.floor((c * frames) / columns);
    const f1 = Math.max(f0 + 1, Math.floor(((c + 1) * frames) / columns));
    for (let b = 0; b < bins; b++) {
      let v = -Infinity;
      for (let f = f0; f < f1; f++) v = Math.max(v, data[f * bins + b]!);
      const [r, g, bl] = color((v - lo) / range);
      const p = ((bins - 1 - b) * columns + c) * 4;
      image.data[p] = r;
      image.data[p + 1] = g;
      image.data[p + 2] = bl;
      image.data[p + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
}

export interface TimelineWindow {
  start: number;
  end: number;
  /** Scores in label order. */
  scores: Float32Array;
}

const LABEL_WIDTH = 90;
const AXIS_HEIGHT = 18;
const ROW_HEIGHT = 14;

/** Windows x labels heat map with the labels down the left and times along the bottom. */
export function drawTimeline(canvas: HTMLCanvasElement, windows: readonly TimelineWindow[], labels: readonly string[]): void {
  canvas.height = labels.length * ROW_HEIGHT + AXIS_HEIGHT;
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#222';
  ctx.textBaseline = 'middle';
  labels.forEach((label, r) => ctx.fillText(label, 4, r * ROW_HEIGHT + ROW_HEIGHT / 2));
  if (windows.length === 0) return;
  const width = (canvas.width - LABEL_WIDTH) / windows.length;
  windows.forEach((w, c) => {
    for (let r = 0; r < labels.length; r++) {
      const [red, g, b] = color(w.scores[r] ?? 0);
      ctx.fillStyle = `rgb(${red | 0},${g | 0},${b | 0})`;
      ctx.fillRect(LABEL_WIDTH + c * width, r * ROW_HEIGHT, Math.ceil(width), ROW_HEIGHT);
    }
  });
  // a time tick every ~80 px
  ctx.fillStyle = '#222';
  ctx.textBaseline = 'top';
  const every = Math.max(1, Math.round(80 / width));
  for (let c = 0; c < windows.length; c += every) {
    ctx.fillText(`${windows[c]!.start.toFixed(1)} s`, LABEL_WIDTH + c * width, labels.length * ROW_HEIGHT + 3);
  }
}
