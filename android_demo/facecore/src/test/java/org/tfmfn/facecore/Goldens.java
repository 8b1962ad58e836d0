package org.tfmfn.facecore;

import static org.junit.Assert.assertEquals;

import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;

/** The goldens that {@code python -m tfmfn.android goldens} writes, read for the tests. */
final class Goldens {
    static final File FOLDER = new File(System.getProperty("goldens", "src/test/resources/goldens"));

    private Goldens() {}

    static Map<String, double[]> values() throws IOException {
        List<String> lines = Files.readAllLines(new File(FOLDER, "goldens.txt").toPath(), StandardCharsets.UTF_8);
        Map<String, double[]> values = new HashMap<>();
        for (String line : lines) {
            if (line.trim().isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] parts = line.trim().split("\\s+");
            double[] numbers = new double[parts.length - 1];
            for (int i = 1; i < parts.length; i++) {
                numbers[i - 1] = Double.parseDouble(parts[i]);
            }
            values.put(parts[0], numbers);
        }
        return values;
    }

    /** An image of the goldens as ARGB pixels; {@code size} receives width and height. */
    static int[] image(String name, int[] size) throws IOException {
        BufferedImage image = ImageIO.read(new File(FOLDER, name));
        size[0] = image.getWidth();
        size[1] = image.getHeight();
        return image.getRGB(0, 0, size[0], size[1], null, 0, size[0]);
    }

    static float[] floats(double[] values) {
        float[] result = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            result[i] = (float) values[i];
        }
        return result;
    }

    static double[][] points(double[] flat) {
        double[][] points = new double[flat.length / 2][];
        for (int i = 0; i < points.length; i++) {
            points[i] = new double[] {flat[2 * i], flat[2 * i + 1]};
        }
        return points;
    }

    /** {largest, mean} absolute difference of two ARGB images' colour channels, in grey levels. */
    static double[] pixelDifference(int[] expected, int[] actual) {
        assertEquals(expected.length, actual.length);
        int worst = 0;
        long total = 0;
        for (int i = 0; i < actual.length; i++) {
            for (int shift = 0; shift <= 16; shift += 8) {
                int difference = Math.abs(((actual[i] >> shift) & 0xff) - ((expected[i] >> shift) & 0xff));
                worst = Math.max(worst, difference);
                total += difference;
            }
        }
        return new double[] {worst, total / (3.0 * actual.length)};
    }
}
