/**
 * The environment variable that names another onnxruntime-node package folder for the engine to load instead of
 * the bundled one: the copy with onnxruntime's CUDA provider beside it that "Install GPU Support" puts in the
 * extension's storage (src/core/download/gpuRuntime.ts). The host sets it for sessions and device probes; the
 * engine reads it (src/engine/runtime/devices.ts).
 */
export const ORT_MODULE_ENV = 'ALIGNMENT_ORT_MODULE';
