package org.tfmfn.facecore;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.Random;
import org.junit.Test;

public class SimilarityTest {
    private static final double[][] SOURCE = {{10, 20}, {40, 22}, {25, 35}, {26, 50}};

    private static double[][] transformed(double[] m, double[][] points) {
        double[][] out = new double[points.length][];
        for (int i = 0; i < points.length; i++) {
            out[i] = Similarity.apply(m, points[i][0], points[i][1]);
        }
        return out;
    }

    @Test
    public void recoversAnExactSimilarity() {
        double angle = 0.3, scale = 1.7;
        double[] truth = {scale * Math.cos(angle), -scale * Math.sin(angle), 5,
                          scale * Math.sin(angle), scale * Math.cos(angle), -7};
        assertArrayEquals(truth, Similarity.estimate(SOURCE, transformed(truth, SOURCE)), 1e-12);
    }

    @Test
    public void identityForIdenticalPoints() {
        assertArrayEquals(new double[] {1, 0, 0, 0, 1, 0}, Similarity.estimate(SOURCE, SOURCE), 1e-12);
    }

    @Test
    public void neverReflects() {
        double[][] mirrored = new double[SOURCE.length][];
        for (int i = 0; i < SOURCE.length; i++) {
            mirrored[i] = new double[] {-SOURCE[i][0], SOURCE[i][1]};
        }
        double[] m = Similarity.estimate(SOURCE, mirrored);
        assertEquals(m[0], m[4], 1e-12);   // a rotation-and-scale block, determinant >= 0
        assertEquals(-m[1], m[3], 1e-12);
    }

    @Test
    public void leastSquaresUnderNoiseIsCloserThanAnyPerturbation() {
        Random random = new Random(3);
        double[] truth = {1.2, -0.1, 3, 0.1, 1.2, 4};
        double[][] target = transformed(truth, SOURCE);
        for (double[] point : target) {
            point[0] += random.nextGaussian();
            point[1] += random.nextGaussian();
        }
        double[] fit = Similarity.estimate(SOURCE, target);
        double best = residual(fit, target);
        for (double step : new double[] {1e-3, -1e-3}) {
            double[][] nudges = {
                {step, 0, 0, 0, step, 0},   // scale
                {0, -step, 0, step, 0, 0},  // rotation
                {0, 0, step, 0, 0, 0},      // translation x
                {0, 0, 0, 0, 0, step},      // translation y
            };
            for (double[] nudge : nudges) {
                double[] nudged = fit.clone();
                for (int k = 0; k < 6; k++) {
                    nudged[k] += nudge[k];
                }
                assertTrue(residual(nudged, target) > best);
            }
        }
    }

    private static double residual(double[] m, double[][] target) {
        double sum = 0;
        double[][] mapped = transformed(m, SOURCE);
        for (int i = 0; i < mapped.length; i++) {
            sum += Math.pow(mapped[i][0] - target[i][0], 2) + Math.pow(mapped[i][1] - target[i][1], 2);
        }
        return sum;
    }

    @Test
    public void inverseUndoesTheTransform() {
        double[] m = {0.9, -0.2, 12, 0.2, 0.9, -3};
        double[] point = Similarity.apply(Similarity.invert(m), 7, 9);
        assertArrayEquals(new double[] {7, 9}, Similarity.apply(m, point[0], point[1]), 1e-12);
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesCoincidentPoints() {
        Similarity.estimate(new double[][] {{1, 1}, {1, 1}}, new double[][] {{0, 0}, {1, 1}});
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesMismatchedPointCounts() {
        Similarity.estimate(SOURCE, new double[][] {{0, 0}, {1, 1}});
    }
}
