// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.graphics;

public final class Bitmap {
    Bitmap() { throw new RuntimeException("Stub!"); }

    public int getWidth() { throw new RuntimeException("Stub!"); }

    public int getHeight() { throw new RuntimeException("Stub!"); }

    public void getPixels(int[] pixels, int offset, int stride, int x, int y, int width, int height) { throw new RuntimeException("Stub!"); }

    public void recycle() { throw new RuntimeException("Stub!"); }

    public static Bitmap createScaledBitmap(Bitmap src, int dstWidth, int dstHeight, boolean filter) { throw new RuntimeException("Stub!"); }
}
