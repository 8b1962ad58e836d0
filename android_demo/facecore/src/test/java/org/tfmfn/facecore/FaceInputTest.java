package org.tfmfn.facecore;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import org.junit.Test;

public class FaceInputTest {
    private static final int[] PIXELS = {0xff000000, 0xffffffff, 0xff80ff00, 0x00102030};

    @Test
    public void normalizesRgbInterleavedAndIgnoresAlpha() {
        float[] values = FaceInput.normalize(PIXELS);
        assertEquals(12, values.length);
        assertEquals(-127.5f / 128, values[0], 0f);
        assertEquals(127.5f / 128, values[3], 0f);
        assertEquals((128 - 127.5f) / 128, values[6], 0f); // red of 0x80ff00
        assertEquals((255 - 127.5f) / 128, values[7], 0f); // green
        assertEquals((0 - 127.5f) / 128, values[8], 0f);   // blue
        assertEquals((0x10 - 127.5f) / 128, values[9], 0f); // alpha 0 changes nothing
    }

    @Test
    public void quantizesToInt8WithScaleAndZeroPoint() {
        byte[] values = FaceInput.quantize(new int[] {0xff000000, 0xffffffff}, 1f / 128, 0, true);
        // halves round up, as QAT's fake quantization: -127.5 -> -127; 127.5 -> 128, clamped to 127
        assertArrayEquals(new byte[] {-127, -127, -127, 127, 127, 127}, values);
    }

    @Test
    public void everyPixelValueGetsTheCodeQuantizationAwareTrainingGaveIt() {
        int[] grey = new int[256];
        for (int p = 0; p < 256; p++) {
            grey[p] = 0xff000000 | p << 16 | p << 8 | p;
        }
        byte[] values = FaceInput.quantize(grey, 1f / 128, 0, true);
        for (int p = 0; p < 256; p++) {
            // (p - 127.5) / 128 at scale 1/128 is p - 127.5: up to p - 127 (rounding to even gave p - 128 for even p)
            assertEquals("pixel " + p, Math.min(p - 127, 127), values[3 * p]);
        }
    }

    @Test
    public void quantizesToUint8AsUnsignedBits() {
        byte[] values = FaceInput.quantize(new int[] {0xff000000, 0xffffffff, 0xff808080}, 1f / 128, 128, false);
        assertEquals(1, values[0] & 0xff);  // -127.5 rounds up to -127, plus 128
        assertEquals(255, values[3] & 0xff);
        assertEquals(129, values[6] & 0xff); // 0.5 / 128 * 128 = 0.5 rounds up to 1, plus 128
    }

    @Test
    public void normalizesWithTheMetadatasOwnMeanAndScale() {
        float[] values = new float[6];
        FaceInput.putNormalized(new int[] {0xff000000, 0xff80ff00}, 0, 255, FloatBuffer.wrap(values));
        assertArrayEquals(new float[] {0, 0, 0, 128 / 255f, 1, 0}, values, 1e-7f);
    }

    @Test
    public void aPixelInputFromConvertTakesEachPixelAsItsCode() {
        int[] grey = new int[256];
        for (int p = 0; p < 256; p++) {
            grey[p] = 0xff000000 | p << 16 | p << 8 | p;
        }
        ByteBuffer codes = ByteBuffer.allocate(3 * 256);
        FaceInput.putQuantized(grey, FaceInput.PIXEL_MEAN, FaceInput.PIXEL_SCALE, 1f / 128, 127, false, codes);
        for (int p = 0; p < 256; p++) {
            assertEquals("pixel " + p, p, codes.get(3 * p) & 0xff); // what MediaPipe feeds a uint8 input
        }
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesANonPositiveScale() {
        FaceInput.quantize(PIXELS, 0f, 0, true);
    }
}
