package org.tfmfn.facecore;

/**
 * Least-squares similarity transform (rotation, uniform scale, translation) between point sets, as a
 * 2x3 row-major matrix {a, -b, tx, b, a, ty}: the transform tfmfn's alignment fits from the detected
 * eyes, nose tip and mouth centre to the template (Umeyama's solution without reflection, which in
 * two dimensions is the complex least-squares fit).
 */
public final class Similarity {
    private Similarity() {}

    /** The matrix mapping {@code source[i]} (x, y) onto {@code target[i]} in the least-squares sense. */
    public static double[] estimate(double[][] source, double[][] target) {
        if (source.length != target.length || source.length < 2) {
            throw new IllegalArgumentException(
                    "need two or more point pairs, got " + source.length + " and " + target.length);
        }
        int n = source.length;
        double sx = 0, sy = 0, tx = 0, ty = 0;
        for (int i = 0; i < n; i++) {
            sx += source[i][0];
            sy += source[i][1];
            tx += target[i][0];
            ty += target[i][1];
        }
        sx /= n;
        sy /= n;
        tx /= n;
        ty /= n;
        double real = 0, imaginary = 0, variance = 0;
        for (int i = 0; i < n; i++) {
            double px = source[i][0] - sx, py = source[i][1] - sy;
            double qx = target[i][0] - tx, qy = target[i][1] - ty;
            real += px * qx + py * qy;
            imaginary += px * qy - py * qx;
            variance += px * px + py * py;
        }
        if (variance == 0) {
            throw new IllegalArgumentException("the source points coincide: no transform fits them");
        }
        double a = real / variance, b = imaginary / variance;
        return new double[] {a, -b, tx - (a * sx - b * sy), b, a, ty - (b * sx + a * sy)};
    }

    /** The inverse of a similarity matrix. */
    public static double[] invert(double[] m) {
        double determinant = m[0] * m[4] - m[1] * m[3];
        if (determinant == 0) {
            throw new IllegalArgumentException("the matrix is singular");
        }
        double i0 = m[4] / determinant, i1 = -m[1] / determinant;
        double i3 = -m[3] / determinant, i4 = m[0] / determinant;
        return new double[] {i0, i1, -(i0 * m[2] + i1 * m[5]), i3, i4, -(i3 * m[2] + i4 * m[5])};
    }

    /** {@code matrix} applied to (x, y). */
    public static double[] apply(double[] m, double x, double y) {
        return new double[] {m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]};
    }
}
