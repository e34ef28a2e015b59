/**
 * The browser-safe inference API. Platform entries (`node/index.ts`, `web/index.ts`) register
 * their ONNX Runtime and re-export this. Re-exports only; each line names what is public.
 * Training is a separate entry (`train.ts`, `ast-audio/train`), so an inference bundle leaves it out.
 */
export type { DType, DataOf, Tensor, Float32Tensor } from './tensor.js';
export { float32Tensor, toFloat32, numel } from './tensor.js';
export { registerRuntime, getRuntime } from './runtime/backend.js';
export type { OrtModule, RuntimeRegistration } from './runtime/backend.js';
export { FormatError } from './io/errors.js';
export { parseNpy, formatNpy } from './io/npy.js';
export type { NpyArray, NpyData } from './io/npy.js';
export { memorySource, urlSource, registerFileSourceResolver, resolveSource } from './io/files.js';
export type { FileSource, FileSourceResolver } from './io/files.js';
export { ASTConfig, AST_DEFAULTS, HIDDEN_ACTS, PROBLEM_TYPES } from './model/config.js';
export type { ASTConfigJSON, HiddenAct, ProblemType } from './model/config.js';
export { parseSafetensors, formatSafetensors, readSafetensorsHeader } from './io/safetensors.js';
export type { SafetensorsFile } from './io/safetensors.js';
export { astParameterSpecs, loadWeights, loadPretrainedWeights, adaptPositionEmbeddings } from './model/weights.js';
export type { HeadKind, ParamSpec, PatchGrid, LoadWeightsOptions } from './model/weights.js';
export { ASTModel, ASTForAudioClassification, buildAST, buildInferenceGraph } from './model/ast.js';
export type { ASTOutput, LoadOptions, ForwardInput, AttentionImpl, ASTGraphOptions, ASTGraphValues, ParamLookup } from './model/ast.js';
export { MODEL_DTYPES, parseModelDtype } from './runtime/dtype.js';
export type { ModelDtype } from './runtime/dtype.js';
export { quantizeInt8PerChannel, dequantizeInt8PerChannel } from './model/quant.js';
export type { Int8PerChannel } from './model/quant.js';
export { toFloat16 } from './graph/float16.js';
export { exportForTransformersJs, TRANSFORMERS_JS_FILES } from './model/export.js';
export type { ExportOptions, ExportedFile } from './model/export.js';
export { GraphBuilder, Value } from './graph/builder.js';
export { OrtSession } from './runtime/session.js';
export type { SessionOptions } from './runtime/session.js';
export { Runner, DisposedError } from './runtime/runner.js';
export type { GraphBytes } from './runtime/runner.js';
export { checkRuntimeOptions, checkThreads } from './runtime/options.js';
export type { RuntimeOptions, GraphOptimizationLevel } from './runtime/options.js';
export { loadPretrained, checkAgreement } from './model/pretrained.js';
export type { Pretrained, PretrainedOptions, InputSpec } from './model/pretrained.js';
export { Batcher, BatchCancelledError } from './pipeline/batcher.js';
export type { Batch, BatcherOptions } from './pipeline/batcher.js';
export { parseTorchCheckpoint } from './io/torch-pickle.js';
export { readCheckpoint, readCheckpointTensors, CHECKPOINT_FILES } from './io/checkpoint.js';
export type { CheckpointFormat } from './io/checkpoint.js';
export { decodeAudio, downmix } from './audio/decode.js';
export type { DecodedAudio, DecodeOptions } from './audio/decode.js';
export { parseWav, isWav } from './audio/wav.js';
export type { WavData } from './audio/wav.js';
export { resample } from './audio/resample.js';
export { fbank, FBANK_DEFAULTS, astFbankOptions } from './audio/fbank.js';
export type { FbankOptions, FbankResult, WindowType } from './audio/fbank.js';
export { ASTFeatureExtractor, AST_FEATURE_EXTRACTOR_DEFAULTS } from './audio/feature-extractor.js';
export type { ASTFeatureExtractorConfig, ExtractOptions } from './audio/feature-extractor.js';
export { NormStatsAccumulator } from './audio/norm-stats.js';
export type { NormStats } from './audio/norm-stats.js';
export { pipeline, createAudioClassificationPipeline, defaultFunctionToApply, activate, DEFAULT_MODEL_DIR } from './pipeline/audio-classification.js';
export type { AudioClassificationPipeline, AudioClassifier, AudioClassificationResult, ClassifyOptions, PipelineOptions, TimelineEntry, ClassifiedAudio, ActivationFunction, AudioInput, RawAudio, AudioStream, AudioChunk } from './pipeline/audio-classification.js';
export { planWindows, aggregateScores, FRAME_SHIFT_MS, FRAME_LENGTH_MS } from './pipeline/windows.js';
export type { Aggregation, WindowOptions, AudioWindow, WindowPlan } from './pipeline/windows.js';
export { hubUrlSource, isValidRepoId, looksLikeRepoId, DEFAULT_HUB_ENDPOINT } from './io/hub-names.js';
