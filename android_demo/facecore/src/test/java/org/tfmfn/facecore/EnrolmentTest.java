package org.tfmfn.facecore;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.Test;

public class EnrolmentTest {
    /** SYNTHETIC embeddings: a person's direction plus noise (cosine about 0.9 between two samples). */
    private static float[] sample(float[] person, Random random) {
        float[] embedding = new float[person.length];
        for (int i = 0; i < person.length; i++) embedding[i] = person[i] + 0.04f * (float) random.nextGaussian();
        return embedding;
    }

    private static float[] person(int seed) {
        Random random = new Random(seed);
        float[] direction = new float[128];
        for (int i = 0; i < direction.length; i++) direction[i] = (float) random.nextGaussian();
        return Embeddings.normalize(direction);
    }

    @Test
    public void enrolmentQualityNamesWhatIsWrongWithAFrame() {
        assertNull(Enrolment.problem(1, Heads.quality(5, 1.5, true)));
        assertEquals("No face", Enrolment.problem(0, null));
        assertTrue(Enrolment.problem(2, Heads.quality(0, 1.5, true)).startsWith("Only one face"));
        assertTrue(Enrolment.problem(1, Heads.quality(0, 0.5, true)).startsWith("Come closer"));
        assertTrue(Enrolment.problem(1, Heads.quality(40, 1.5, true)).startsWith("Face the camera"));
        assertTrue(Enrolment.problem(1, Heads.quality(0, 1.5, false)).startsWith("Hold still"));
    }

    @Test
    public void enrolmentQualityTakesSamplesApartFromOneTrackedFace() {
        Random random = new Random(2);
        float[] ada = person(1);
        FaceQuality good = Heads.quality(0, 1.5, true);
        Enrolment enrolment = new Enrolment(3, 400, 1.0);
        assertEquals("Sample 1 / 3", enrolment.offer(1, 7, good, sample(ada, random), 0));
        assertEquals("Sample 1 / 3", enrolment.offer(1, 7, good, sample(ada, random), 100)); // too soon
        assertEquals("Sample 2 / 3", enrolment.offer(1, 7, good, sample(ada, random), 400));
        assertEquals("Another face: starting again", enrolment.offer(1, 8, good, sample(ada, random), 800));
        assertEquals("Sample 1 / 3", enrolment.offer(1, 8, good, sample(ada, random), 900));
        assertTrue(enrolment.offer(2, 8, good, sample(ada, random), 1400).startsWith("Only one face"));
        enrolment.offer(1, 8, good, sample(ada, random), 1500);
        assertFalse(enrolment.complete());
        assertEquals("Sample 3 / 3", enrolment.offer(1, 8, good, sample(ada, random), 1900));
        assertTrue(enrolment.complete());
        assertEquals(3, enrolment.samples().size());
    }

    @Test
    public void enrolmentQualityDropsASampleOfAnotherPerson() {
        Random random = new Random(3);
        float[] ada = person(1), grace = person(2);
        FaceQuality good = Heads.quality(0, 1.5, true);
        Enrolment enrolment = new Enrolment(4, 0, 1.0);
        enrolment.offer(1, 1, good, sample(ada, random), 0);
        enrolment.offer(1, 1, good, sample(grace, random), 1); // the tracker kept the id as someone leaned in
        enrolment.offer(1, 1, good, sample(ada, random), 2);
        assertEquals("Sample 2 did not look like the others: taking another",
                enrolment.offer(1, 1, good, sample(ada, random), 3));
        assertFalse(enrolment.complete());
        enrolment.offer(1, 1, good, sample(ada, random), 4);
        assertTrue(enrolment.complete());
        for (float[] kept : enrolment.samples()) assertTrue(Embeddings.cosine(kept, ada) > 0.8);
    }

    @Test
    public void enrolmentQualityFindsNoOutlierAmongConsistentSamples() {
        Random random = new Random(4);
        float[] ada = person(1);
        List<float[]> samples = new ArrayList<>();
        for (int i = 0; i < 5; i++) samples.add(sample(ada, random));
        assertEquals(-1, Enrolment.outlier(samples, 1.0));
        samples.add(person(9));
        assertEquals(5, Enrolment.outlier(samples, 1.0));
    }

    @Test
    public void enrolmentQualityWarnsWhenTheNewPersonIsSomeoneEnrolled() {
        Random random = new Random(5);
        float[] ada = person(1), grace = person(2);
        Gallery gallery = new Gallery("m@1", 128);
        gallery.enroll("ada", sample(ada, random));
        gallery.enroll("ada", sample(ada, random));
        List<float[]> again = Arrays.asList(sample(ada, random), sample(ada, random), sample(ada, random));
        assertEquals("ada", Enrolment.lookalike(gallery, again, 1.0).name);
        assertNull(Enrolment.lookalike(gallery, Arrays.asList(sample(grace, random), sample(grace, random)), 1.0));
    }
}
