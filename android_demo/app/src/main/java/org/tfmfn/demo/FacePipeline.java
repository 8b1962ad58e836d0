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
 * One camera frame to faces and an embedding: BlazeFace on the letterboxed frame, MTCNN's ONet on the
 * largest face's box for its five landmarks (as tfmfn.align does), the face aligned by them to the
 * metadata's template, MobileFaceNet on the crop. LiteRT runs the three models on the CPU with
 * XNNPACK; the embedder's input and output are float, int8 or uint8 as its tensors say. Not
 * thread-safe: use it from one thread.
 */
final class FacePipeline implements AutoCloseable {
    static final int DETECTOR_SIZE = 192;
    static final int[] DETECTOR_STRIDES = {4};
    static final float MIN_FACE_SCORE = 0.5f;
    static final float NMS_IOU = 0.3f;

    /** What one frame gave. */
    static final class Result {
        final List<BlazeFace.Detection> faces;
        /** The normalised embedding of the largest face, or null when there is no face. */
        final float[] embedding;
        /** The largest face's five landmarks (x, y interleaved), or null when there is no face. */
        final float[] landmarks;
        /** The largest face's size, pose and sharpness, or null when there is no face. */
        final FaceQuality quality;
        final double detectMs, alignMs, embedMs;

        Result(List<BlazeFace.Detection> faces, float[] embedding, float[] landmarks, FaceQuality quality,
                double detectMs, double alignMs, double embedMs) {
            this.faces = faces;
            this.embedding = embedding;
            this.landmarks = landmarks;
            this.quality = quality;
            this.detectMs = detectMs;
            this.alignMs = alignMs;
            this.embedMs = embedMs;
        }
    }

    private final ModelMetadata metadata;
    private final Interpreter detector, landmarker, embedder;
    private final float[][] anchors = BlazeFace.anchors(DETECTOR_SIZE, DETECTOR_STRIDES, false);
    private final ByteBuffer detectorInput, regressorsOutput, scoresOutput, embedderInput, embedderOutput;
    private final ByteBuffer landmarkerInput;
    private final ByteBuffer[] landmarkerOutputs = new ByteBuffer[3];
    private final int[] landmarkerOutputIndices;
    private final Map<Integer, Object> landmarkerOutputMap = new HashMap<>();
    private final int regressorsIndex, scoresIndex;
    private final Tensor embedderInputTensor, embedderOutputTensor;
    final int threads;

    FacePipeline(ModelAssets models, int threads) {
        this.metadata = models.metadata;
        this.threads = threads;
        detector = new Interpreter(direct(models.detector), options(threads));
        landmarker = new Interpreter(direct(models.landmarker), options(1));
        embedder = new Interpreter(direct(models.embedder), options(threads));
        try {
            regressorsIndex = checkDetector(detector, anchors.length);
            landmarkerOutputIndices = checkLandmarker(landmarker);
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

    /** Refuses an embedder whose tensors disagree with its metadata, with what differs. */
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

    /** Faces in an upright ARGB frame, largest first, and the embedding of the largest. */
    Result process(int[] argb, int width, int height) {
        long start = System.nanoTime();
        List<BlazeFace.Detection> faces = detect(argb, width, height);
        long detected = System.nanoTime();
        if (faces.isEmpty()) {
            return new Result(faces, null, null, null, millis(start, detected), 0, 0);
        }
        float[] box = faces.get(0).box;
        Landmarks.Result landmarks = Landmarks.locate(argb, width, height,
                new double[] {box[0], box[1], box[2], box[3]}, this::runLandmarker, Landmarks.PASSES);
        double[] matrix = Aligner.matrixFromLandmarks(landmarks.points, metadata.alignmentTemplate);
        int[] crop = Aligner.warp(argb, width, height, matrix, metadata.inputWidth, metadata.inputHeight);
        FaceQuality quality = FaceQuality.of(landmarks.points, crop, metadata.inputWidth, metadata.inputHeight);
        long aligned = System.nanoTime();
        float[] embedding = embed(crop);
        long embedded = System.nanoTime();
        return new Result(faces, embedding, landmarks.points, quality, millis(start, detected),
                millis(detected, aligned), millis(aligned, embedded));
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
        Letterbox letterbox = Letterbox.of(width, height);
        detectorInput.rewind();
        detectorInput.asFloatBuffer().put(BlazeFace.input(letterbox.resize(argb, width, height, DETECTOR_SIZE)));
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

    private float[] embed(int[] crop) {
        embedderInput.rewind();
        DataType inputType = embedderInputTensor.dataType();
        if (inputType == DataType.FLOAT32) {
            embedderInput.asFloatBuffer().put(FaceInput.normalize(crop));
        } else {
            embedderInput.put(FaceInput.quantize(crop, embedderInputTensor.quantizationParams().getScale(),
                    embedderInputTensor.quantizationParams().getZeroPoint(), inputType == DataType.INT8));
        }
        embedderInput.rewind();
        embedderOutput.rewind();
        embedder.run(embedderInput, embedderOutput);
        embedderOutput.rewind();
        float[] raw;
        DataType outputType = embedderOutputTensor.dataType();
        if (outputType == DataType.FLOAT32) {
            raw = floats(embedderOutput);
        } else {
            byte[] values = new byte[embedderOutput.remaining()];
            embedderOutput.get(values);
            raw = Embeddings.dequantize(values, embedderOutputTensor.quantizationParams().getScale(),
                    embedderOutputTensor.quantizationParams().getZeroPoint(), outputType == DataType.INT8);
        }
        return Embeddings.normalize(raw);
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
