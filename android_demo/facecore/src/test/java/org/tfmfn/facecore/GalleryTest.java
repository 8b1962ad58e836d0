package org.tfmfn.facecore;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.Random;
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
    public void identifiesTheClosestPersonByTheMeanOfTheirSamples() {
        Gallery.Match match = twoPeople().identify(new float[] {1, 0.25f, 0}, 0.5);
        assertEquals("ada", match.name);
        float[] centroid = Embeddings.mean(Arrays.asList(new float[] {1, 0, 0}, new float[] {1, 0.2f, 0}));
        assertEquals(Embeddings.squaredDistance(new float[] {1, 0.25f, 0}, centroid), match.squaredDistance, 1e-12);
    }

    @Test
    public void verifiesAgainstOnePersonsMean() {
        Gallery gallery = twoPeople();
        float[] probe = {1, 0.25f, 0};
        double toAda = gallery.distance("ada", probe);
        assertEquals(Embeddings.squaredDistance(probe, gallery.centroid("ada")), toAda, 1e-12);
        assertTrue(gallery.verify("ada", probe, toAda + 1e-3));
        assertFalse(gallery.verify("ada", probe, toAda - 1e-3));
        assertFalse(gallery.verify("grace", probe, 0.5));
    }

    @Test
    public void morePersonsSamplesGiveAnImpostorNoMoreChances() {
        // SYNTHETIC: samples spread around a person; an impostor's best-sample distance falls as samples are
        // added (k chances), the distance to their mean does not
        Random random = new Random(8);
        Gallery gallery = new Gallery("m", 16);
        float[] impostor = new float[16];
        for (int i = 0; i < 16; i++) impostor[i] = (float) random.nextGaussian();
        float[] person = new float[16];
        person[0] = 1;
        double bestSample = Double.POSITIVE_INFINITY;
        for (int k = 0; k < 20; k++) {
            float[] sample = person.clone();
            for (int i = 0; i < 16; i++) sample[i] += 0.6f * (float) random.nextGaussian();
            gallery.enroll("ada", sample);
            bestSample = Math.min(bestSample, Embeddings.squaredDistance(impostor, sample));
        }
        assertTrue(gallery.distance("ada", impostor) > bestSample + 0.3);
    }

    @Test(expected = IllegalArgumentException.class)
    public void verifyingSomeoneNotEnrolledIsRefused() {
        twoPeople().distance("alan", new float[] {1, 0, 0});
    }

    @Test
    public void nobodyWhenNoPersonIsBelowTheThreshold() {
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

    @Test
    public void galleryExportImportAddsThePeopleOfAnotherDevice() throws IOException {
        Gallery here = new Gallery("mobilefacenet", 3);
        here.enroll("ada", new float[] {0, 0, 1});
        Gallery there = twoPeople();
        Gallery.Imported imported = here.importFrom(new ByteArrayInputStream(there.toBytes()));
        assertEquals(Arrays.asList("grace"), imported.added);
        assertEquals(Arrays.asList("ada"), imported.skipped); // an import never changes who someone already is
        assertEquals(Arrays.asList("ada", "grace"), here.names());
        assertEquals(1, here.samples("ada"));
        assertArrayEquals(new float[] {0, 1, 0}, here.centroid("grace"), 0);
    }

    @Test
    public void galleryExportImportRefusesAnotherModelsExportAndLeavesTheGalleryAsItWas() throws IOException {
        Gallery here = new Gallery("mobilefacenet@aaaaaa", 3);
        here.enroll("ada", new float[] {0, 0, 1});
        byte[] before = here.toBytes();
        Gallery other = new Gallery("mobilefacenet@bbbbbb", 3);
        other.enroll("grace", new float[] {0, 1, 0});
        try {
            here.importFrom(new ByteArrayInputStream(other.toBytes()));
            fail();
        } catch (IOException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("mobilefacenet@bbbbbb"));
        }
        try {
            here.importFrom(new ByteArrayInputStream(Arrays.copyOf(other.toBytes(), 20)));
            fail();
        } catch (IOException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("truncated"));
        }
        assertArrayEquals(before, here.toBytes());
    }

    @Test
    public void galleryExportImportOfAnotherFileSaysWhatItIs() {
        try {
            new Gallery("m", 3).importFrom(new ByteArrayInputStream("name,embedding\n".getBytes()));
            fail();
        } catch (IOException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().startsWith("not a tfmfn gallery file"));
        }
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesAnEmbeddingOfTheWrongSize() {
        twoPeople().enroll("alan", new float[] {1, 2});
    }
}
