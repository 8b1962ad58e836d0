package org.tfmfn.facecore;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class EmbeddingsTest {
    @Test
    public void normalizeGivesUnitLength() {
        float[] unit = Embeddings.normalize(new float[] {3, 4});
        assertEquals(0.6f, unit[0], 1e-7f);
        assertEquals(0.8f, unit[1], 1e-7f);
    }

    @Test
    public void cosineIgnoresScale() {
        assertEquals(1.0, Embeddings.cosine(new float[] {1, 2, 3}, new float[] {10, 20, 30}), 1e-7);
        assertEquals(0.0, Embeddings.cosine(new float[] {1, 0}, new float[] {0, 5}), 1e-12);
        assertEquals(-1.0, Embeddings.cosine(new float[] {1, 1}, new float[] {-2, -2}), 1e-7);
    }

    @Test
    public void squaredDistanceIsTwoMinusTwoCosine() {
        assertEquals(2.0, Embeddings.squaredDistance(new float[] {1, 0}, new float[] {0, 1}), 1e-12);
        assertEquals(4.0, Embeddings.squaredDistance(new float[] {1, 0}, new float[] {-1, 0}), 1e-12);
    }

    @Test
    public void verifyComparesWithTheThreshold() {
        float[] a = {1, 0}, b = {1, 1}; // squared distance 2 - sqrt(2) = 0.586
        assertTrue(Embeddings.verify(a, b, 0.6));
        assertFalse(Embeddings.verify(a, b, 0.5));
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesAZeroEmbedding() {
        Embeddings.normalize(new float[] {0, 0});
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesEmbeddingsOfDifferentSizes() {
        Embeddings.cosine(new float[] {1, 0}, new float[] {1, 0, 0});
    }

    @Test
    public void dequantizeReadsSignedAndUnsignedOutputs() {
        byte[] values = {-128, -1, 0, 127};
        assertArrayEquals(new float[] {-64f, -0.5f, 0f, 63.5f}, Embeddings.dequantize(values, 0.5f, 0, true), 0f);
        assertArrayEquals(new float[] {0f, 63.5f, -64f, -0.5f},
                Embeddings.dequantize(values, 0.5f, 128, false), 0f);
    }
}
