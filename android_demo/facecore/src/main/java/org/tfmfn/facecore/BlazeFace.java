package org.tfmfn.facecore;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Decoding of MediaPipe BlazeFace's raw outputs (the same .tflite files tfmfn uses): SSD anchors,
 * boxes and six keypoints relative to them, sigmoid scores, and MediaPipe's weighted non-max
 * suppression. Coordinates are in [0, 1] of the square model input until {@link #toImage} maps them
 * back through the letterbox (the photo padded to a centred square of side {@code side}).
 *
 * <pre>{@code
 * float[][] anchors = BlazeFace.anchors(192, new int[] {4}, false);   // full-range model
 * List<BlazeFace.Detection> faces = BlazeFace.decode(regressors, scores, anchors, 192, 0.5f, 0.3f);
 * }</pre>
 */
public final class BlazeFace {
    public static final float RAW_SCORE_LIMIT = 80f;

    private BlazeFace() {}

    /** One face: box (x0, y0, x1, y1), keypoints (x, y) x 6 (right eye, left eye, nose, mouth, ears). */
    public static final class Detection {
        public final float[] box;
        public final float[] keypoints;
        public final float score;

        public Detection(float[] box, float[] keypoints, float score) {
            this.box = box;
            this.keypoints = keypoints;
            this.score = score;
        }
    }

    /** The model input of a letterboxed square of ARGB pixels: RGB values scaled to [-1, 1]. */
    public static float[] input(int[] square) {
        float[] input = new float[3 * square.length];
        putInput(square, FloatBuffer.wrap(input));
        return input;
    }

    /** Writes the model input of a letterboxed square into {@code out} (the interpreter's buffer) from its position. */
    public static void putInput(int[] square, FloatBuffer out) {
        for (int pixel : square) {
            out.put(((pixel >> 16) & 0xff) / 127.5f - 1f);
            out.put(((pixel >> 8) & 0xff) / 127.5f - 1f);
            out.put((pixel & 0xff) / 127.5f - 1f);
        }
    }

    /** Anchor centres (x, y), in the order of the model's outputs; layers of equal stride share a grid. */
    public static float[][] anchors(int inputSize, int[] strides, boolean interpolated) {
        List<float[]> anchors = new ArrayList<>();
        int layer = 0;
        while (layer < strides.length) {
            int stride = strides[layer];
            int sameStride = 0;
            while (layer < strides.length && strides[layer] == stride) {
                sameStride++;
                layer++;
            }
            int perCell = sameStride * (interpolated ? 2 : 1);
            int grid = (int) Math.ceil(inputSize / (double) stride);
            for (int y = 0; y < grid; y++) {
                for (int x = 0; x < grid; x++) {
                    for (int k = 0; k < perCell; k++) {
                        anchors.add(new float[] {(x + 0.5f) / grid, (y + 0.5f) / grid});
                    }
                }
            }
        }
        return anchors.toArray(new float[0][]);
    }

    /** Faces from raw outputs: {@code regressors} N x 16 (row-major), {@code scores} N logits; best first. */
    public static List<Detection> decode(float[] regressors, float[] scores, float[][] anchors, int inputSize,
                                         float minScore, float iouThreshold) {
        if (scores.length != anchors.length || regressors.length != 16 * anchors.length) {
            throw new IllegalArgumentException("outputs for " + scores.length + " anchors, model has " + anchors.length);
        }
        List<Detection> candidates = new ArrayList<>();
        for (int i = 0; i < anchors.length; i++) {
            float logit = Math.max(-RAW_SCORE_LIMIT, Math.min(RAW_SCORE_LIMIT, scores[i]));
            float probability = (float) (1.0 / (1.0 + Math.exp(-logit)));
            if (probability < minScore) {
                continue;
            }
            float cx = anchors[i][0] + regressors[16 * i] / inputSize;
            float cy = anchors[i][1] + regressors[16 * i + 1] / inputSize;
            float halfWidth = regressors[16 * i + 2] / inputSize / 2, halfHeight = regressors[16 * i + 3] / inputSize / 2;
            float[] keypoints = new float[12];
            for (int k = 0; k < 6; k++) {
                keypoints[2 * k] = anchors[i][0] + regressors[16 * i + 4 + 2 * k] / inputSize;
                keypoints[2 * k + 1] = anchors[i][1] + regressors[16 * i + 5 + 2 * k] / inputSize;
            }
            candidates.add(new Detection(
                    new float[] {cx - halfWidth, cy - halfHeight, cx + halfWidth, cy + halfHeight}, keypoints, probability));
        }
        return weightedNms(candidates, iouThreshold);
    }

    /**
     * MediaPipe's weighted non-max suppression: the best remaining detection absorbs every detection
     * overlapping it by more than {@code iouThreshold} and takes their score-weighted mean box and keypoints.
     */
    public static List<Detection> weightedNms(List<Detection> detections, float iouThreshold) {
        List<Detection> remaining = new ArrayList<>(detections);
        remaining.sort((a, b) -> Float.compare(b.score, a.score)); // stable: ties keep their order
        List<Detection> results = new ArrayList<>();
        while (!remaining.isEmpty()) {
            Detection best = remaining.get(0);
            double[] box = new double[4], points = new double[12];
            double weights = 0;
            List<Detection> rest = new ArrayList<>();
            for (Detection other : remaining) {
                if (other == best || iou(best.box, other.box) > iouThreshold) { // even a degenerate box absorbs itself
                    for (int k = 0; k < 4; k++) box[k] += other.score * other.box[k];
                    for (int k = 0; k < 12; k++) points[k] += other.score * other.keypoints[k];
                    weights += other.score;
                } else {
                    rest.add(other);
                }
            }
            float[] meanBox = new float[4], meanPoints = new float[12];
            for (int k = 0; k < 4; k++) meanBox[k] = (float) (box[k] / weights);
            for (int k = 0; k < 12; k++) meanPoints[k] = (float) (points[k] / weights);
            results.add(new Detection(meanBox, meanPoints, best.score));
            remaining = rest;
        }
        return results;
    }

    /** Intersection over union of two boxes (x0, y0, x1, y1). */
    public static double iou(float[] a, float[] b) {
        double width = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
        double height = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
        double intersection = width * height;
        double union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection;
        return intersection / Math.max(union, 1e-12);
    }

    /** A detection in photo pixels, from model coordinates of a letterbox of side {@code side}, padded by padX, padY. */
    public static Detection toImage(Detection detection, int side, int padX, int padY) {
        float[] box = new float[4], points = new float[12];
        for (int k = 0; k < 4; k++) box[k] = detection.box[k] * side - (k % 2 == 0 ? padX : padY);
        for (int k = 0; k < 12; k++) points[k] = detection.keypoints[k] * side - (k % 2 == 0 ? padX : padY);
        return new Detection(box, points, detection.score);
    }
}
