package org.tfmfn.demo;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.lite.DataType;
import org.tensorflow.lite.Interpreter;
import org.tensorflow.lite.Tensor;
import org.tfmfn.facecore.Aligner;
import org.tfmfn.facecore.BlazeFace;
import org.tfmfn.facecore.Embeddings;
import org.tfmfn.facecore.FaceInput;
import org.tfmfn.facecore.FaceQuality;
import org.tfmfn.facecore.Landmarks;
import org.tfmfn.facecore.Letterbox;
import org.tfmfn.facecore.ModelMetadata;

/**
 * One camera frame to faces and their embeddings: BlazeFace on the letterboxed frame, then for each face
 * (largest first, at most {@link #MAX_FACES}) MTCNN's ONet on its box for the five landmarks (as
 * tfmfn.align does), the face aligned by them to the metadata's template, its quality measured, and
 * MobileFaceNet on the crop, normalised as the metadata says. What a frame needs is asked for: Watch
 * needs boxes only, so it runs neither ONet nor the embedder. LiteRT runs the three models on the CPU
 * with XNNPACK; the embedder's input and output are float, int8 or uint8 as its tensors say. Inputs are
 * written straight into the interpreters' buffers, and the frame-sized arrays are kept from frame to
 * frame. Not thread-safe: use it from one thread.
 */
final class FacePipeline implements AutoCloseable {
    static final int DETECTOR_SIZE = 192;
    static final int[] DETECTOR_STRIDES = {4};
    static final float MIN_FACE_SCORE = 0.5f;
    static final float NMS_IOU = 0.3f;
    static final int MAX_FACES = 5;

    /** How much of the pipeline a frame needs. */
    enum Work { DETECT, ALIGN, EMBED }

    /** One face of a frame: its detection, and with ALIGN its landmarks and quality, with EMBED its embedding. */
    static final class Face {
        final BlazeFace.Detection detection;
        final float[] landmarks;
        final FaceQuality quality;
        /** The normalised embedding, or null when the frame did not ask for it. */
        final float[] embedding;

        Face(BlazeFace.Detection detection, float[] landmarks, FaceQuality quality, float[] embedding) {
            this.detection = detection;
            this.landmarks = landmarks;
            this.quality = quality;
            this.embedding = embedding;
        }
    }

    /** What one frame gave: its faces, largest first, and the time each stage took. */
    static final class Result {
        final List<Face> faces;
        final double detectMs, alignMs, embedMs;

        Result(List<Face> faces, double detectMs, double alignMs, double embedMs) {
            this.faces = faces;
            this.detectMs = detectMs;
            this.alignMs = alignMs;
            this.embedMs = embedMs;
        }
    }

    /** The embedder's metadata; for a model with only the standard entry, with the output tensor's embedding size. */
    final ModelMetadata metadata;
    private final Interpreter detector, landmarker, embedder;
    private final float[][] anchors = BlazeFace.anchors(DETECTOR_SIZE, DETECTOR_STRIDES, false);
    private final ByteBuffer detectorInput, regressorsOutput, scoresOutput, embedderInput, embedderOutput;
    private final ByteBuffer landmarkerInput;
    private final ByteBuffer[] landmarkerOutputs = new ByteBuffer[3];
    private final int[] landmarkerOutputIndices;
    private final Map<Integer, Object> landmarkerOutputMap = new HashMap<>();
    private final int regressorsIndex, scoresIndex;
    private final Tensor embedderInputTensor, embedderOutputTensor;
    private final byte[] quantizedOutput;
    private final float[] floatOutput;
    private Letterbox letterbox;
    private int[] square, crop;
    final int threads;

    FacePipeline(ModelAssets models, int threads) {
        this.threads = threads;
        detector = new Interpreter(direct(models.detector), options(threads));
        landmarker = new Interpreter(direct(models.landmarker), options(1));
        embedder = new Interpreter(direct(models.embedder), options(threads));
        try {
            regressorsIndex = checkDetector(detector, anchors.length);
            landmarkerOutputIndices = checkLandmarker(landmarker);
            int[] output = embedder.getOutputTensor(0).shape();
            metadata = models.metadata.standardOnly && output.length == 2
                    ? models.metadata.withEmbeddingSize(output[1]) : models.metadata;
            checkEmbedder(embedder, metadata);
        } catch (IllegalArgumentException wrongModel) {
            close();
            throw wrongModel;
        }
        scoresIndex = 1 - regressorsIndex;
        detectorInput = allocate(detector.getInputTensor(0).numBytes());
        regressorsOutput = allocate(detector.getOutputTensor(regressorsIndex).numBytes());
        scoresOutput = allocate(detector.getOutputTensor(scoresIndex).numBytes());
        landmarkerInput = allocate(landmarker.getInputTensor(0).numBytes());
        for (int k = 0; k < 3; k++) {
            landmarkerOutputs[k] = allocate(landmarker.getOutputTensor(landmarkerOutputIndices[k]).numBytes());
            landmarkerOutputMap.put(landmarkerOutputIndices[k], landmarkerOutputs[k]);
        }
        embedderInputTensor = embedder.getInputTensor(0);
        embedderOutputTensor = embedder.getOutputTensor(0);
        embedderInput = allocate(embedderInputTensor.numBytes());
        embedderOutput = allocate(embedderOutputTensor.numBytes());
        quantizedOutput = new byte[metadata.embeddingSize];
        floatOutput = new float[metadata.embeddingSize];
    }

    /** The detector's regressors output index, once its tensors are the full-range BlazeFace's. */
    private static int checkDetector(Interpreter detector, int anchors) {
        int[] input = detector.getInputTensor(0).shape();
        if (!Arrays.equals(input, new int[] {1, DETECTOR_SIZE, DETECTOR_SIZE, 3})
                || detector.getInputTensor(0).dataType() != DataType.FLOAT32 || detector.getOutputTensorCount() != 2) {
            throw new IllegalArgumentException(ModelAssets.DETECTOR + " is not BlazeFace full range (input "
                    + Arrays.toString(input) + "); install it again with python -m tfmfn.android");
        }
        for (int index = 0; index < 2; index++) {
            int[] shape = detector.getOutputTensor(index).shape();
            if (Arrays.equals(shape, new int[] {1, anchors, 16})) {
                return index;
            }
        }
        throw new IllegalArgumentException(ModelAssets.DETECTOR + " has no [1, " + anchors
                + ", 16] box output; install it again with python -m tfmfn.android");
    }

    /** The landmarker's output indices of its box correction, points and scores, once it is ONet. */
    private static int[] checkLandmarker(Interpreter landmarker) {
        int side = Landmarks.INPUT_SIDE;
        if (!Arrays.equals(landmarker.getInputTensor(0).shape(), new int[] {1, side, side, 3})
                || landmarker.getInputTensor(0).dataType() != DataType.FLOAT32 || landmarker.getOutputTensorCount() != 3) {
            throw new IllegalArgumentException(ModelAssets.LANDMARKER + " is not MTCNN's ONet (float input [1, 48, 48, 3], "
                    + "3 outputs): install it again with python -m tfmfn.android");
        }
        int[] indices = new int[3];
        int[] sizes = {4, 10, 2};
        for (int index = 0; index < 3; index++) {
            int[] shape = landmarker.getOutputTensor(index).shape();
            for (int k = 0; k < 3; k++) {
                if (shape[shape.length - 1] == sizes[k]) {
                    indices[k] = index;
                }
            }
        }
        return indices;
    }

    /** Refuses an embedder whose tensors disagree with its metadata, with what differs. */
    private static void checkEmbedder(Interpreter embedder, ModelMetadata metadata) {
        Tensor input = embedder.getInputTensor(0), output = embedder.getOutputTensor(0);
        int[] inputShape = input.shape(), outputShape = output.shape();
        String problem = null;
        if (!Arrays.equals(inputShape, new int[] {1, metadata.inputHeight, metadata.inputWidth, 3})) {
            problem = "input is " + Arrays.toString(inputShape) + " but its metadata says "
                    + metadata.inputHeight + "x" + metadata.inputWidth + " RGB";
        } else if (!Arrays.equals(outputShape, new int[] {1, metadata.embeddingSize})) {
            problem = "output is " + Arrays.toString(outputShape) + " but its metadata says "
                    + metadata.embeddingSize + "-d";
        } else if (!readable(input.dataType()) || !readable(output.dataType())) {
            problem = "tensors are " + input.dataType() + " -> " + output.dataType()
                    + ", not float32, int8 or uint8";
        }
        if (problem != null) {
            throw new IllegalArgumentException("the embedder's " + problem
                    + "; convert the model again with python -m tfmfn.convert");
        }
    }

    private static boolean readable(DataType type) {
        return type == DataType.FLOAT32 || type == DataType.INT8 || type == DataType.UINT8;
    }

    private static Interpreter.Options options(int threads) {
        return new Interpreter.Options().setNumThreads(threads).setUseXNNPACK(true);
    }

    private static ByteBuffer direct(byte[] model) {
        ByteBuffer buffer = allocate(model.length);
        buffer.put(model);
        buffer.rewind();
        return buffer;
    }

    private static ByteBuffer allocate(int bytes) {
        return ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
    }

    /** The faces of an upright ARGB frame, largest first, with as much of the pipeline as {@code work} asks. */
    Result process(int[] argb, int width, int height, Work work) {
        long start = System.nanoTime();
        List<BlazeFace.Detection> detections = detect(argb, width, height);
        long detected = System.nanoTime();
        double alignNs = 0, embedNs = 0;
        List<Face> faces = new ArrayList<>();
        for (BlazeFace.Detection detection : detections) {
            if (work == Work.DETECT || faces.size() == MAX_FACES) {
                faces.add(new Face(detection, null, null, null));
                continue;
            }
            long faceStart = System.nanoTime();
            float[] box = detection.box;
            Landmarks.Result landmarks = Landmarks.locate(argb, width, height,
                    new double[] {box[0], box[1], box[2], box[3]}, this::runLandmarker, Landmarks.PASSES);
            double[] matrix = Aligner.matrixFromLandmarks(landmarks.points, metadata.alignmentTemplate);
            crop = Aligner.warp(argb, width, height, matrix, metadata.inputWidth, metadata.inputHeight, crop);
            FaceQuality quality = FaceQuality.of(landmarks.points, crop, metadata.inputWidth, metadata.inputHeight);
            long aligned = System.nanoTime();
            float[] embedding = work == Work.EMBED ? embed(crop) : null;
            alignNs += aligned - faceStart;
            embedNs += System.nanoTime() - aligned;
            faces.add(new Face(detection, landmarks.points, quality, embedding));
        }
        return new Result(faces, millis(start, detected), alignNs / 1e6, embedNs / 1e6);
    }

    private float[][] runLandmarker(float[] input) {
        landmarkerInput.rewind();
        landmarkerInput.asFloatBuffer().put(input);
        for (ByteBuffer output : landmarkerOutputs) {
            output.rewind();
        }
        landmarker.runForMultipleInputsOutputs(new Object[] {landmarkerInput}, landmarkerOutputMap);
        return new float[][] {floats(landmarkerOutputs[0]), floats(landmarkerOutputs[1]), floats(landmarkerOutputs[2])};
    }

    private List<BlazeFace.Detection> detect(int[] argb, int width, int height) {
        if (letterbox == null || letterbox.width != width || letterbox.height != height) {
            letterbox = Letterbox.of(width, height);
        }
        square = letterbox.resize(argb, width, height, DETECTOR_SIZE, square);
        detectorInput.rewind();
        BlazeFace.putInput(square, detectorInput.asFloatBuffer());
        regressorsOutput.rewind();
        scoresOutput.rewind();
        Map<Integer, Object> outputs = new HashMap<>();
        outputs.put(regressorsIndex, regressorsOutput);
        outputs.put(scoresIndex, scoresOutput);
        detector.runForMultipleInputsOutputs(new Object[] {detectorInput}, outputs);
        List<BlazeFace.Detection> faces = new ArrayList<>();
        for (BlazeFace.Detection face : BlazeFace.decode(floats(regressorsOutput), floats(scoresOutput), anchors,
                DETECTOR_SIZE, MIN_FACE_SCORE, NMS_IOU)) {
            faces.add(BlazeFace.toImage(face, letterbox.side, letterbox.padX, letterbox.padY));
        }
        faces.sort((a, b) -> Float.compare(area(b), area(a)));
        return faces;
    }

    /** The normalised embedding of an aligned crop, its input normalised as the metadata says. */
    private float[] embed(int[] crop) {
        embedderInput.rewind();
        DataType inputType = embedderInputTensor.dataType();
        if (inputType == DataType.FLOAT32) {
            FaceInput.putNormalized(crop, metadata.pixelMean, metadata.pixelScale, embedderInput.asFloatBuffer());
        } else {
            FaceInput.putQuantized(crop, metadata.pixelMean, metadata.pixelScale,
                    embedderInputTensor.quantizationParams().getScale(),
                    embedderInputTensor.quantizationParams().getZeroPoint(), inputType == DataType.INT8, embedderInput);
        }
        embedderInput.rewind();
        embedderOutput.rewind();
        embedder.run(embedderInput, embedderOutput);
        embedderOutput.rewind();
        DataType outputType = embedderOutputTensor.dataType();
        if (outputType == DataType.FLOAT32) {
            embedderOutput.asFloatBuffer().get(floatOutput);
            return Embeddings.normalize(floatOutput);
        }
        embedderOutput.get(quantizedOutput);
        return Embeddings.normalize(Embeddings.dequantize(quantizedOutput,
                embedderOutputTensor.quantizationParams().getScale(),
                embedderOutputTensor.quantizationParams().getZeroPoint(), outputType == DataType.INT8));
    }

    private static float[] floats(ByteBuffer buffer) {
        buffer.rewind();
        FloatBuffer values = buffer.asFloatBuffer();
        float[] result = new float[values.remaining()];
        values.get(result);
        return result;
    }

    private static float area(BlazeFace.Detection face) {
        return (face.box[2] - face.box[0]) * (face.box[3] - face.box[1]);
    }

    private static double millis(long from, long to) {
        return (to - from) / 1e6;
    }

    @Override
    public void close() {
        detector.close();
        landmarker.close();
        embedder.close();
    }
}
