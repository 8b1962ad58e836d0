// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.graphics;

public class Canvas {
    public Canvas() { throw new RuntimeException("Stub!"); }

    public void drawRect(float left, float top, float right, float bottom, Paint paint) { throw new RuntimeException("Stub!"); }

    public void drawCircle(float cx, float cy, float radius, Paint paint) { throw new RuntimeException("Stub!"); }

    public void drawText(String text, float x, float y, Paint paint) { throw new RuntimeException("Stub!"); }
}
