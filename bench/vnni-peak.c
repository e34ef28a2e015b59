// This CPU's int8 peak for the README's floor arithmetic (Low precision → Speed and memory): one core issuing
// independent AVX-512 VNNI vpdpbusd (64 u8 x s8 multiply-adds into int32 per instruction), ten accumulators so
// latency never limits, timed in thread CPU time (so another process's share of the core does not count), best of 5.
//   gcc -O2 -mavx512f -mavx512vnni -o /tmp/vnni-peak bench/vnni-peak.c && /tmp/vnni-peak
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
  __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(2);
  __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0;
  const long iters = 20000000;
  double best = 1e9;
  for (int r = 0; r < 5; r++) {
    double t = now();
    for (long i = 0; i < iters; i++) {
      c0 = _mm512_dpbusd_epi32(c0, a, b); c1 = _mm512_dpbusd_epi32(c1, a, b); c2 = _mm512_dpbusd_epi32(c2, a, b);
      c3 = _mm512_dpbusd_epi32(c3, a, b); c4 = _mm512_dpbusd_epi32(c4, a, b); c5 = _mm512_dpbusd_epi32(c5, a, b);
      c6 = _mm512_dpbusd_epi32(c6, a, b); c7 = _mm512_dpbusd_epi32(c7, a, b); c8 = _mm512_dpbusd_epi32(c8, a, b);
      c9 = _mm512_dpbusd_epi32(c9, a, b);
      __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5), "+v"(c6), "+v"(c7), "+v"(c8), "+v"(c9));
    }
    double dt = now() - t;
    if (dt < best) best = dt;
  }
  __m512i s = _mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c8, c9));
  double ops = (double)iters * 10 * 64 * 2; // a multiply-add is 2 ops
  printf("vpdpbusd zmm, one core: %.2f instructions/ns = %.1f G int8 ops/s (check %d)\n", iters * 10 / best / 1e9, ops / best / 1e9, _mm512_reduce_add_epi32(s) & 1);
  return 0;
}
