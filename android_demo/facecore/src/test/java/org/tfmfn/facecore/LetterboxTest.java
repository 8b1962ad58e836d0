package org.tfmfn.facecore;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertSame;

import java.util.Arrays;
import java.util.Random;
import org.junit.Test;

public class LetterboxTest {
    private static final int GREY = 0xff808080, BLACK = 0xff000000;

    @Test
    public void wideAndTallPhotosArePaddedToACentredSquare() {
        Letterbox wide = Letterbox.of(640, 480);
        assertEquals(640, wide.side);
        assertEquals(0, wide.padX);
        assertEquals(80, wide.padY);
        Letterbox tall = Letterbox.of(301, 400);
        assertEquals(400, tall.side);
        assertEquals(49, tall.padX);
        assertEquals(0, tall.padY);
    }

    @Test
    public void shrinkingKeepsAFlatPhotoFlatAndThePaddingBlack() {
        int[] photo = new int[400 * 200];
        Arrays.fill(photo, GREY);
        int[] square = Letterbox.of(400, 200).resize(photo, 400, 200, 100);
        assertEquals(BLACK, square[0]);                  // top padding rows
        assertEquals(GREY, square[50 * 100 + 50]);       // the photo's middle
        assertEquals(BLACK, square[99 * 100 + 99]);      // bottom padding rows
        assertEquals(GREY, square[26 * 100 + 3]);        // first full photo row (rows 25..75 hold the photo)
    }

    @Test
    public void enlargingKeepsAFlatPhotoFlat() {
        int[] photo = new int[10 * 10];
        Arrays.fill(photo, GREY);
        for (int pixel : Letterbox.of(10, 10).resize(photo, 10, 10, 37)) {
            assertEquals(GREY, pixel);
        }
    }

    @Test
    public void shrinkingByAnIntegerFactorAveragesBlocks() {
        int[] photo = {0xff000000, 0xff0000ff, 0xff000000, 0xff0000ff};  // a 2x2 of blue 0 and 255 columns
        int[] square = Letterbox.of(2, 2).resize(photo, 2, 2, 1);
        assertEquals(128, square[0] & 0xff);  // 127.5 rounds half up
    }

    @Test(expected = IllegalArgumentException.class)
    public void aPixelCountThatDoesNotMatchTheSizeIsRefused() {
        Letterbox.of(4, 4).resize(new int[15], 4, 4, 2);
    }

    @Test
    public void resizingIntoAKeptArrayGivesTheSamePixelsFrameAfterFrame() {
        Random random = new Random(2);
        int[] photo = new int[300 * 200];
        for (int i = 0; i < photo.length; i++) photo[i] = 0xff000000 | random.nextInt(0x1000000);
        Letterbox letterbox = Letterbox.of(300, 200);
        int[] fresh = Letterbox.of(300, 200).resize(photo, 300, 200, 192);
        int[] kept = new int[192 * 192];
        assertSame(kept, letterbox.resize(photo, 300, 200, 192, kept));
        assertArrayEquals(fresh, kept);
        assertArrayEquals(fresh, letterbox.resize(photo, 300, 200, 192, kept)); // the kept taps give the same
        assertEquals(128 * 128, letterbox.resize(photo, 300, 200, 128, kept).length); // another size: new taps, new array
    }
}
