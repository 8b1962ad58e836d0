package org.tfmfn.facecore;

import java.util.Locale;
import java.util.Map;

/**
 * One decision threshold of a model, as {@code tfmfn.evaluate.operating_points} measured it on single,
 * unflipped embeddings of an evaluation set: the squared distance below which two faces are one
 * person, the false accept rate it was chosen for, and how many impostor pairs stand behind it.
 *
 * <pre>{@code
 * OperatingPoint point = ModelMetadata.read(tfliteBytes).pointFor(OperatingPoint.IDENTIFY);
 * boolean same = squaredDistance < point.threshold;
 * String shown = point.describe();  // "1:N, FAR 1e-4: d² < 0.912 (3000 impostor pairs: too few to measure it)"
 * }</pre>
 */
public final class OperatingPoint {
    /** The app modes, as the metadata's {@code thresholds.use} names them. */
    public static final String VERIFY = "1:1", IDENTIFY = "1:N";

    public final String mode;
    /** The metadata's name of the point: far_1e-3, far_1e-4, accuracy_optimal, or "recommended". */
    public final String name;
    public final double threshold;
    /** The false accept rate the threshold was chosen for; NaN for a point without one. */
    public final double targetFar;
    /** Impostor pairs the threshold was measured on; 0 when unknown. */
    public final int impostorPairs;
    /** Whether those impostor pairs are enough to measure {@link #targetFar} at all. */
    public final boolean supported;

    OperatingPoint(String mode, String name, double threshold, double targetFar, int impostorPairs, boolean supported) {
        this.mode = mode;
        this.name = name;
        this.threshold = threshold;
        this.targetFar = targetFar;
        this.impostorPairs = impostorPairs;
        this.supported = supported;
    }

    /** A threshold the app chose itself, for a model whose metadata has none. */
    public static OperatingPoint appDefault(String mode, double threshold) {
        return new OperatingPoint(mode, "app default", threshold, Double.NaN, 0, false);
    }

    /** The point {@code thresholds.use} names for {@code mode}; IllegalArgumentException when absent. */
    static OperatingPoint fromThresholds(Map<?, ?> thresholds, String mode) {
        Map<?, ?> use = (Map<?, ?>) thresholds.get("use");
        Object name = use == null ? null : use.get(mode);
        Object point = name == null ? null : thresholds.get(name);
        if (!(point instanceof Map)) {
            throw new IllegalArgumentException("tfmfn metadata names no threshold for " + mode + "; convert the model again");
        }
        Map<?, ?> values = (Map<?, ?>) point;
        Object target = values.get("target_far"), supported = values.get("supported");
        return new OperatingPoint(mode, (String) name, (Double) values.get("threshold"),
                target == null ? Double.NaN : (Double) target,
                ((Double) thresholds.get("impostor_pairs")).intValue(), !Boolean.FALSE.equals(supported));
    }

    /** What the app shows: the mode, the rate, the threshold and whether the rate was measurable. */
    public String describe() {
        String rate = Double.isNaN(targetFar) ? name : String.format(Locale.US, "FAR %.0e", targetFar).replace("e-0", "e-");
        String basis = impostorPairs == 0 ? "" : String.format(Locale.US, " (%d impostor pairs%s)", impostorPairs,
                supported ? "" : ": too few to measure it");
        return String.format(Locale.US, "%s, %s: d² < %.3f%s", mode, rate, threshold, basis);
    }
}
