// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.view;

import android.content.Context;
import android.content.res.Resources;
import android.graphics.Canvas;
import android.util.AttributeSet;

public class View {
    public View(Context context) { throw new RuntimeException("Stub!"); }

    public View(Context context, AttributeSet attrs) { throw new RuntimeException("Stub!"); }

    public Resources getResources() { throw new RuntimeException("Stub!"); }

    public final int getWidth() { throw new RuntimeException("Stub!"); }

    public final int getHeight() { throw new RuntimeException("Stub!"); }

    public void invalidate() { throw new RuntimeException("Stub!"); }

    protected void onDraw(Canvas canvas) { throw new RuntimeException("Stub!"); }

    public static final int VISIBLE = 0;
    public static final int GONE = 8;

    public void setOnClickListener(View.OnClickListener l) { throw new RuntimeException("Stub!"); }

    public void setVisibility(int visibility) { throw new RuntimeException("Stub!"); }

    public void setPadding(int left, int top, int right, int bottom) { throw new RuntimeException("Stub!"); }

    public int getPaddingLeft() { throw new RuntimeException("Stub!"); }

    public int getPaddingTop() { throw new RuntimeException("Stub!"); }

    public int getPaddingRight() { throw new RuntimeException("Stub!"); }

    public int getPaddingBottom() { throw new RuntimeException("Stub!"); }

    public void setOnApplyWindowInsetsListener(View.OnApplyWindowInsetsListener listener) { throw new RuntimeException("Stub!"); }

    public void requestApplyInsets() { throw new RuntimeException("Stub!"); }

    public interface OnClickListener {
        void onClick(View v);
    }

    public interface OnApplyWindowInsetsListener {
        WindowInsets onApplyWindowInsets(View v, WindowInsets insets);
    }
}
