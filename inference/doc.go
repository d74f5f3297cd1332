// Package inference runs Protrude's three kidney networks through ONNX Runtime.
//
// # Model bundle
//
// A bundle is a folder, on disk or in an fs.FS, with base.onnx, protuberance.onnx,
// fusion.onnx and manifest.json. [LoadBundle] and [LoadBundleDir] read it and check it
// against the contract: the manifest fields, and the input and output names and
// shapes stored in each .onnx file. Each violation becomes a [BundleError].
//
// # Tensors and axes
//
// Networks take float32 tensors [1, C, D, H, W] of a fixed patch size. D runs along
// +S, H along +P and W along +L of the canonical grid, which is
// volume.IsotropicGridLPS of the input grid at the manifest spacing. One channel
// therefore has the flat voxel order of a volume.Volume on that grid, W fastest. CT
// is clipped to the manifest's HU window and mapped linearly to [-1, 1].
//
// # Running
//
// Call [InitRuntime] once with the path of libonnxruntime.so, load a bundle, and
// create a [Pipeline] with a [Device]. [Pipeline.Run] returns a [Result] with masks on
// the input grid and probabilities on the canonical grid, and keeps the normalised CT
// on that grid. [Pipeline.Rerun] starts from such a Result after a manual edit: the
// protuberance and fusion networks after a kidney edit, fusion alone after a
// protrusion edit, with the edit laid over the network probability by [BlendEdit].
// [Pipeline.RunProtuberance] runs the protuberance network alone on a binary organ
// mask. [SlidingWindow] is the patch loop underneath and accepts any [Predictor].
//
// # Limits
//
// Patches run one after another, so the speed depends on ONNX Runtime's intra-op
// threads or the GPU. The CUDA path needs a GPU build of ONNX Runtime with its CUDA
// provider libraries in the folder of the core library. The tests cover its failure
// and fallback only, because they run with the CPU build.
package inference
