// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.widget;

import android.content.Context;

public class Toast {
    public Toast(Context context) { throw new RuntimeException("Stub!"); }

    public static final int LENGTH_SHORT = 0;
    public static final int LENGTH_LONG = 1;

    public static Toast makeText(Context context, CharSequence text, int duration) { throw new RuntimeException("Stub!"); }

    public static Toast makeText(Context context, int resId, int duration) { throw new RuntimeException("Stub!"); }

    public void show() { throw new RuntimeException("Stub!"); }
}
