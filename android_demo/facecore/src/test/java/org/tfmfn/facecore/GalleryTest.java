package org.tfmfn.facecore;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.util.Arrays;
import org.junit.Test;

public class GalleryTest {
    private static Gallery twoPeople() {
        Gallery gallery = new Gallery("mobilefacenet", 3);
        gallery.enroll("ada", new float[] {1, 0, 0});
        gallery.enroll("ada", new float[] {1, 0.2f, 0});
        gallery.enroll("grace", new float[] {0, 1, 0});
        return gallery;
    }

    @Test
    public void identifiesTheClosestPersonByTheirBestSample() {
        Gallery.Match match = twoPeople().identify(new float[] {1, 0.25f, 0}, 0.5);
        assertEquals("ada", match.name);
        assertEquals(Embeddings.squaredDistance(new float[] {1, 0.25f, 0}, new float[] {1, 0.2f, 0}),
                match.squaredDistance, 1e-12);
    }

    @Test
    public void verifiesAgainstOnePersonsClosestSample() {
        Gallery gallery = twoPeople();
        float[] probe = {1, 0.25f, 0};
        double toAda = gallery.distance("ada", probe);
        assertEquals(Embeddings.squaredDistance(probe, new float[] {1, 0.2f, 0}), toAda, 1e-12);
        assertTrue(gallery.verify("ada", probe, toAda + 1e-3));
        assertFalse(gallery.verify("ada", probe, toAda - 1e-3));
        assertFalse(gallery.verify("grace", probe, 0.5));
    }

    @Test(expected = IllegalArgumentException.class)
    public void verifyingSomeoneNotEnrolledIsRefused() {
        twoPeople().distance("alan", new float[] {1, 0, 0});
    }

    @Test
    public void nobodyWhenNoSampleIsBelowTheThreshold() {
        assertNull(twoPeople().identify(new float[] {0, 0, 1}, 1.0));
    }

    @Test
    public void deleteForgetsAPerson() {
        Gallery gallery = twoPeople();
        assertTrue(gallery.delete("grace"));
        assertEquals(Arrays.asList("ada"), gallery.names());
        assertNull(gallery.identify(new float[] {0, 1, 0}, 1.0));
    }

    @Test
    public void survivesAWriteAndReadWithEverySample() throws IOException {
        Gallery gallery = twoPeople();
        Gallery read = Gallery.fromBytes(gallery.toBytes(), "mobilefacenet", 3);
        assertEquals(gallery.names(), read.names());
        assertEquals(2, read.samples("ada"));
        assertEquals("ada", read.identify(new float[] {1, 0.25f, 0}, 0.5).name);
        assertArrayEquals(gallery.toBytes(), read.toBytes());
    }

    @Test
    public void refusesAGalleryOfAnotherModel() {
        try {
            Gallery.fromBytes(twoPeople().toBytes(), "mobilefacenet_lrelu", 3);
            fail();
        } catch (IOException expected) {
            assertTrue(expected.getMessage().contains("enroll again"));
        }
    }

    @Test
    public void refusesANewerFormatAndATruncatedFile() throws IOException {
        byte[] bytes = twoPeople().toBytes();
        byte[] newer = bytes.clone();
        newer[7] = (byte) (Gallery.FORMAT_VERSION + 1);
        try {
            Gallery.fromBytes(newer, "mobilefacenet", 3);
            fail();
        } catch (IOException expected) {
            assertTrue(expected.getMessage().contains("newer"));
        }
        try {
            Gallery.fromBytes(Arrays.copyOf(bytes, bytes.length - 5), "mobilefacenet", 3);
            fail();
        } catch (IOException expected) {
            assertTrue(expected.getMessage().contains("truncated"));
        }
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesAnEmbeddingOfTheWrongSize() {
        twoPeople().enroll("alan", new float[] {1, 2});
    }
}
