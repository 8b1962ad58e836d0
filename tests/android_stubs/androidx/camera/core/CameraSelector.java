// A compile-time stub for tests/test_android_app.py: signatures transcribed from CameraX 1.4.2 (androidx.camera:camera-core, camera-lifecycle, camera-view 1.4.2).
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package androidx.camera.core;

public final class CameraSelector {
    CameraSelector() { throw new RuntimeException("Stub!"); }

    public static final int LENS_FACING_FRONT = 0;
    public static final int LENS_FACING_BACK = 1;

    public static final class Builder {
        public Builder() { throw new RuntimeException("Stub!"); }

        public Builder requireLensFacing(int lensFacing) { throw new RuntimeException("Stub!"); }

        public CameraSelector build() { throw new RuntimeException("Stub!"); }
    }
}
