// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.widget;

import android.content.Context;
import android.util.AttributeSet;
import android.view.View;

public class TextView extends View {
    public TextView(Context context) { super(context); throw new RuntimeException("Stub!"); }

    public TextView(Context context, AttributeSet attrs) { super(context, attrs); throw new RuntimeException("Stub!"); }

    public CharSequence getText() { throw new RuntimeException("Stub!"); }

    public final void setText(CharSequence text) { throw new RuntimeException("Stub!"); }

    public final void setText(int resid) { throw new RuntimeException("Stub!"); }

    public final void setHint(int resid) { throw new RuntimeException("Stub!"); }

    public void setSingleLine() { throw new RuntimeException("Stub!"); }
}
