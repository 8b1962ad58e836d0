// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.graphics;

public class Color {
    public Color() { throw new RuntimeException("Stub!"); }

    public static final int BLACK = -16777216;
    public static final int LTGRAY = -3355444;
    public static final int WHITE = -1;
    public static final int YELLOW = -256;

    public static int rgb(int red, int green, int blue) { throw new RuntimeException("Stub!"); }
}
