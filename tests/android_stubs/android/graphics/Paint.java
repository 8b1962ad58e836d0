// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.graphics;

public class Paint {
    public Paint() { throw new RuntimeException("Stub!"); }

    public enum Style { FILL, STROKE, FILL_AND_STROKE }

    public void setStyle(Paint.Style style) { throw new RuntimeException("Stub!"); }

    public void setStrokeWidth(float width) { throw new RuntimeException("Stub!"); }

    public void setColor(int color) { throw new RuntimeException("Stub!"); }

    public void setTextSize(float textSize) { throw new RuntimeException("Stub!"); }

    public float getTextSize() { throw new RuntimeException("Stub!"); }

    public void setShadowLayer(float radius, float dx, float dy, int shadowColor) { throw new RuntimeException("Stub!"); }
}
