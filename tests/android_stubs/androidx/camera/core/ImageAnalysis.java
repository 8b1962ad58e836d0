// A compile-time stub for tests/test_android_app.py: signatures transcribed from CameraX 1.4.2 (androidx.camera:camera-core, camera-lifecycle, camera-view 1.4.2).
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package androidx.camera.core;

import java.util.concurrent.Executor;

public final class ImageAnalysis extends UseCase {
    ImageAnalysis() { throw new RuntimeException("Stub!"); }

    public static final int STRATEGY_KEEP_ONLY_LATEST = 0;
    public static final int STRATEGY_BLOCK_PRODUCER = 1;
    public static final int OUTPUT_IMAGE_FORMAT_YUV_420_888 = 1;
    public static final int OUTPUT_IMAGE_FORMAT_RGBA_8888 = 2;

    public void setAnalyzer(Executor executor, ImageAnalysis.Analyzer analyzer) { throw new RuntimeException("Stub!"); }

    public void clearAnalyzer() { throw new RuntimeException("Stub!"); }

    /** The real interface also has default methods (getDefaultTargetResolution, ...); analyze is its one abstract method. */
    public interface Analyzer {
        void analyze(ImageProxy image);
    }

    public static final class Builder {
        public Builder() { throw new RuntimeException("Stub!"); }

        public Builder setBackpressureStrategy(int strategy) { throw new RuntimeException("Stub!"); }

        public Builder setOutputImageFormat(int outputImageFormat) { throw new RuntimeException("Stub!"); }

        public ImageAnalysis build() { throw new RuntimeException("Stub!"); }
    }
}
