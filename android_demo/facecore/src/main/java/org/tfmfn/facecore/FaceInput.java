package org.tfmfn.facecore;

/**
 * Aligned face pixels (ARGB, as Android's Bitmap.getPixels gives them) to the embedder's input:
 * RGB, normalised as (pixel - 127.5) / 128, then quantised with the input tensor's scale and zero
 * point for an int8 or uint8 model.
 *
 * <pre>{@code
 * float[] input = FaceInput.normalize(pixels);                 // float model
 * byte[] quantized = FaceInput.quantize(pixels, 0.0078125f, 0, true);  // int8 model
 * }</pre>
 */
public final class FaceInput {
    public static final float PIXEL_MEAN = 127.5f;
    public static final float PIXEL_SCALE = 128.0f;

    private FaceInput() {}

    /** RGB values of ARGB pixels in [-1, 1), interleaved (r, g, b per pixel). */
    public static float[] normalize(int[] argb) {
        float[] values = new float[argb.length * 3];
        for (int i = 0; i < argb.length; i++) {
            int pixel = argb[i];
            values[3 * i] = (((pixel >> 16) & 0xff) - PIXEL_MEAN) / PIXEL_SCALE;
            values[3 * i + 1] = (((pixel >> 8) & 0xff) - PIXEL_MEAN) / PIXEL_SCALE;
            values[3 * i + 2] = ((pixel & 0xff) - PIXEL_MEAN) / PIXEL_SCALE;
        }
        return values;
    }

    /**
     * Normalised values quantised as floor(value / scale + zeroPoint + 0.5), clamped to int8 ({@code signed})
     * or uint8 (returned as the same bits in a byte). Halves round up, as TensorFlow's fake quantization
     * does in quantization-aware training and as tfmfn.inference.quantize does: at scale 1/128 every
     * normalised pixel is a half, and rounding to even would feed the model codes it did not train on.
     */
    public static byte[] quantize(int[] argb, float scale, int zeroPoint, boolean signed) {
        if (!(scale > 0)) {
            throw new IllegalArgumentException("quantisation scale must be positive, got " + scale);
        }
        float[] values = normalize(argb);
        int low = signed ? -128 : 0;
        int high = signed ? 127 : 255;
        byte[] quantized = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            double level = Math.floor(values[i] / scale + zeroPoint + 0.5);
            quantized[i] = (byte) (int) Math.max(low, Math.min(high, level));
        }
        return quantized;
    }
}
