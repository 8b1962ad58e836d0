package org.tfmfn.facecore;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import org.junit.Test;

public class AlignerTest {
    private static int[] gradient(int width, int height) {
        int[] pixels = new int[width * height];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                pixels[y * width + x] = 0xff000000 | (x * 10 << 16) | (y * 10 << 8) | 7;
            }
        }
        return pixels;
    }

    @Test
    public void identityMatrixCopiesThePixels() {
        int[] image = gradient(8, 6);
        assertArrayEquals(image, Aligner.warp(image, 8, 6, new double[] {1, 0, 0, 0, 1, 0}, 8, 6));
    }

    @Test
    public void translationShiftsAndFillsBlack() {
        int[] image = gradient(8, 6);
        int[] out = Aligner.warp(image, 8, 6, new double[] {1, 0, 2, 0, 1, 1}, 8, 6);
        assertEquals(image[0], out[1 * 8 + 2]);
        assertEquals(0xff000000, out[0]);
    }

    @Test
    public void halfPixelShiftAveragesNeighbours() {
        int[] image = gradient(8, 6);
        int[] out = Aligner.warp(image, 8, 6, new double[] {1, 0, -0.5, 0, 1, 0}, 8, 6);
        assertEquals(15, (out[1] >> 16) & 0xff); // between red 10 and 20
    }

    @Test
    public void upscalingByTwoInterpolatesLinearly() {
        int[] image = gradient(4, 4);
        int[] out = Aligner.warp(image, 4, 4, new double[] {2, 0, 0, 0, 2, 0}, 8, 8);
        assertEquals(5, (out[1] >> 16) & 0xff);
        assertEquals(10, (out[2] >> 16) & 0xff);
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesAPixelCountThatIsNotTheSize() {
        Aligner.warp(new int[10], 4, 4, new double[] {1, 0, 0, 0, 1, 0}, 4, 4);
    }
}
