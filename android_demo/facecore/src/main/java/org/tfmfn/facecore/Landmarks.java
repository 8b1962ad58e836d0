package org.tfmfn.facecore;

/**
 * The five alignment landmarks (eye centres, nose tip, mouth corners) from MTCNN's ONet run on a
 * detector's face box, as tfmfn.face.landmarks does: the box made square about its centre, warped into
 * a 48x48 crop, normalised as (pixel - 127.5) / 128; ONet's box correction gives the box of the
 * next pass (two passes), its points the landmarks.
 *
 * <pre>{@code
 * Landmarks.Result found = Landmarks.locate(argb, width, height, face.box, onet, Landmarks.PASSES);
 * double[] matrix = Aligner.matrixFromLandmarks(found.points, metadata.alignmentTemplate);
 * }</pre>
 */
public final class Landmarks {
    /** ONet's input side. */
    public static final int INPUT_SIDE = 48;
    /** ONet passes, each on the box the previous one corrected. */
    public static final int PASSES = 2;

    /** Runs ONet on one normalised 48x48 RGB input; returns {box correction (4), points (10), (not face, face) probabilities (2)}. */
    public interface Runner {
        float[][] run(float[] input);
    }

    /** Five points (x, y interleaved) in photo pixels, the box the last pass looked at, its face score. */
    public static final class Result {
        public final float[] points;
        public final double[] box;
        public final float score;

        Result(float[] points, double[] box, float score) {
            this.points = points;
            this.box = box;
            this.score = score;
        }
    }

    private Landmarks() {}

    /** {x0, y0, side}: the square with the box's centre and its longer side. */
    public static double[] square(double[] box) {
        double side = Math.max(Math.max(box[2] - box[0], box[3] - box[1]), 1.0);
        return new double[] {(box[0] + box[2] - side) / 2, (box[1] + box[3] - side) / 2, side};
    }

    /** The 2x3 matrix mapping the square about {@code box} (x0, y0, x1, y1) onto the 48x48 crop. */
    public static double[] boxMatrix(double[] box) {
        double[] square = square(box);
        double scale = INPUT_SIDE / square[2];
        return new double[] {scale, 0, -square[0] * scale, 0, scale, -square[1] * scale};
    }

    /** ONet's input for the square about {@code box}: the crop, normalised. */
    public static float[] input(int[] argb, int width, int height, double[] box) {
        return FaceInput.normalize(Aligner.warp(argb, width, height, boxMatrix(box), INPUT_SIDE, INPUT_SIDE));
    }

    /** ONet's points (x1..x5, y1..y5 in box units) as photo pixels (x, y interleaved). */
    public static float[] points(float[] onetPoints, double[] box) {
        if (onetPoints.length != 10) {
            throw new IllegalArgumentException("ONet gives 10 point coordinates, got " + onetPoints.length);
        }
        double[] square = square(box);
        float[] pixels = new float[10];
        for (int k = 0; k < 5; k++) {
            pixels[2 * k] = (float) (square[0] + onetPoints[k] * square[2]);
            pixels[2 * k + 1] = (float) (square[1] + onetPoints[k + 5] * square[2]);
        }
        return pixels;
    }

    /** The box ONet's correction (dx0, dy0, dx1, dy1 in box units) makes of the square about {@code box}. */
    public static double[] correctedBox(float[] correction, double[] box) {
        double[] square = square(box);
        return new double[] {
            square[0] + correction[0] * square[2], square[1] + correction[1] * square[2],
            square[0] + square[2] + correction[2] * square[2], square[1] + square[2] + correction[3] * square[2]
        };
    }

    /** The landmarks of the face in {@code box}: {@code passes} ONet passes, each on the box the last corrected. */
    public static Result locate(int[] argb, int width, int height, double[] box, Runner onet, int passes) {
        if (passes < 1) {
            throw new IllegalArgumentException("ONet passes must be at least 1, got " + passes);
        }
        double[] lookedAt = box;
        float[][] outputs = null;
        for (int pass = 0; pass < passes; pass++) {
            lookedAt = pass == 0 ? box : correctedBox(outputs[0], lookedAt);
            outputs = onet.run(input(argb, width, height, lookedAt));
        }
        return new Result(points(outputs[1], lookedAt), lookedAt, outputs[2][outputs[2].length - 1]);
    }
}
