package org.tfmfn.facecore;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;

/**
 * Aligned face pixels (ARGB, as Android's Bitmap.getPixels gives them) to the embedder's input:
 * RGB, normalised as (pixel - mean) / scale with the model's own normalisation (its metadata;
 * tfmfn's is (p - 127.5) / 128), then quantised with the input tensor's scale and zero point for an
 * int8 or uint8 model. The {@code put} forms write into the interpreter's input buffer, with no
 * array allocated per frame.
 *
 * <pre>{@code
 * float[] input = FaceInput.normalize(pixels);                          // tfmfn's normalisation
 * FaceInput.putNormalized(pixels, metadata.pixelMean, metadata.pixelScale, buffer.asFloatBuffer());
 * FaceInput.putQuantized(pixels, metadata.pixelMean, metadata.pixelScale, 1 / 128f, 127, false, buffer);
 * }</pre>
 */
public final class FaceInput {
    public static final float PIXEL_MEAN = 127.5f;
    public static final float PIXEL_SCALE = 128.0f;

    private FaceInput() {}

    /** RGB values of ARGB pixels normalised as tfmfn's (and MTCNN's) (p - 127.5) / 128, interleaved (r, g, b per pixel). */
    public static float[] normalize(int[] argb) {
        float[] values = new float[argb.length * 3];
        putNormalized(argb, PIXEL_MEAN, PIXEL_SCALE, FloatBuffer.wrap(values));
        return values;
    }

    /** Writes the RGB values of ARGB pixels, normalised as (p - mean) / scale, into {@code out} from its position. */
    public static void putNormalized(int[] argb, double mean, double scale, FloatBuffer out) {
        checkNormalization(scale);
        for (int pixel : argb) {
            out.put((float) ((((pixel >> 16) & 0xff) - mean) / scale));
            out.put((float) ((((pixel >> 8) & 0xff) - mean) / scale));
            out.put((float) (((pixel & 0xff) - mean) / scale));
        }
    }

    /** {@link #putQuantized} with tfmfn's normalisation, into a new array. */
    public static byte[] quantize(int[] argb, float scale, int zeroPoint, boolean signed) {
        byte[] values = new byte[argb.length * 3];
        putQuantized(argb, PIXEL_MEAN, PIXEL_SCALE, scale, zeroPoint, signed, ByteBuffer.wrap(values));
        return values;
    }

    /**
     * Writes the normalised values quantised as floor(value / scale + zeroPoint + 0.5), clamped to int8
     * ({@code signed}) or uint8 (as the same bits in a byte), into {@code out} from its position. Halves
     * round up, as TensorFlow's fake quantization does in quantization-aware training and as
     * tfmfn.runtime.litert.quantize_values does: at scale 1/128 every normalised pixel is a half, and rounding to even
     * would feed the model codes it did not train on. A uint8 input that tfmfn.convert made (zero point
     * 127 at scale 1/128) gets each pixel as its own code.
     */
    public static void putQuantized(int[] argb, double mean, double pixelScale, float scale, int zeroPoint,
            boolean signed, ByteBuffer out) {
        if (!(scale > 0)) {
            throw new IllegalArgumentException("quantisation scale must be positive, got " + scale);
        }
        checkNormalization(pixelScale);
        int low = signed ? -128 : 0;
        int high = signed ? 127 : 255;
        byte[] codes = new byte[256];
        for (int p = 0; p < 256; p++) {
            double level = Math.floor((float) ((p - mean) / pixelScale) / scale + zeroPoint + 0.5);
            codes[p] = (byte) (int) Math.max(low, Math.min(high, level));
        }
        for (int pixel : argb) {
            out.put(codes[(pixel >> 16) & 0xff]);
            out.put(codes[(pixel >> 8) & 0xff]);
            out.put(codes[pixel & 0xff]);
        }
    }

    private static void checkNormalization(double scale) {
        if (scale == 0 || Double.isNaN(scale)) {
            throw new IllegalArgumentException("normalisation scale must be a non-zero number, got " + scale);
        }
    }
}
