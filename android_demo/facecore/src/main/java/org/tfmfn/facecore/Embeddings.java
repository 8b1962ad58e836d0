package org.tfmfn.facecore;

import java.util.List;

/**
 * Embedding arithmetic and the verification decision: embeddings are L2-normalised, compared by
 * cosine; two faces are the same person when the squared distance of their normalised embeddings
 * (2 - 2 cosine) is below the model's recommended threshold (tfmfn metadata).
 */
public final class Embeddings {
    private Embeddings() {}

    /** A unit-length copy of {@code vector}. */
    public static float[] normalize(float[] vector) {
        double sum = 0;
        for (float value : vector) {
            sum += (double) value * value;
        }
        if (!(sum > 0) || Double.isInfinite(sum)) {
            throw new IllegalArgumentException("cannot normalise an embedding of norm " + Math.sqrt(sum));
        }
        double norm = Math.sqrt(sum);
        float[] unit = new float[vector.length];
        for (int i = 0; i < vector.length; i++) {
            unit[i] = (float) (vector[i] / norm);
        }
        return unit;
    }

    /** The normalised mean of one or more embeddings of one size. */
    public static float[] mean(List<float[]> embeddings) {
        if (embeddings.isEmpty()) {
            throw new IllegalArgumentException("the mean of no embeddings");
        }
        float[] sum = new float[embeddings.get(0).length];
        for (float[] embedding : embeddings) {
            if (embedding.length != sum.length) {
                throw new IllegalArgumentException("embeddings of " + sum.length + " and " + embedding.length + " values");
            }
            float[] unit = normalize(embedding);
            for (int i = 0; i < sum.length; i++) {
                sum[i] += unit[i];
            }
        }
        return normalize(sum);
    }

    /** The float values of a quantized output tensor: {@code scale * (q - zeroPoint)}. */
    public static float[] dequantize(byte[] values, float scale, int zeroPoint, boolean signed) {
        float[] result = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            int q = signed ? values[i] : values[i] & 0xff;
            result[i] = scale * (q - zeroPoint);
        }
        return result;
    }

    /** Cosine similarity of two embeddings (any norm). */
    public static double cosine(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("embeddings of " + a.length + " and " + b.length + " values");
        }
        float[] ua = normalize(a), ub = normalize(b);
        double dot = 0;
        for (int i = 0; i < ua.length; i++) {
            dot += (double) ua[i] * ub[i];
        }
        return dot;
    }

    /** Squared distance of the normalised embeddings: 2 - 2 cosine, in [0, 4]. */
    public static double squaredDistance(float[] a, float[] b) {
        return 2 - 2 * cosine(a, b);
    }

    /** 1:1 verification: the same person when the squared distance is below {@code threshold}. */
    public static boolean verify(float[] a, float[] b, double threshold) {
        return squaredDistance(a, b) < threshold;
    }
}
