// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.util;

public final class Size {
    public Size(int width, int height) { throw new RuntimeException("Stub!"); }

    public int getWidth() { throw new RuntimeException("Stub!"); }

    public int getHeight() { throw new RuntimeException("Stub!"); }
}
