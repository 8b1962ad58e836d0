// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.widget;

import android.content.Context;
import android.util.AttributeSet;
import android.view.ViewGroup;

public class FrameLayout extends ViewGroup {
    public FrameLayout(Context context, AttributeSet attrs) { super(context, attrs); throw new RuntimeException("Stub!"); }
}
