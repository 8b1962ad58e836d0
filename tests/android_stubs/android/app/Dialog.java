// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.app;

import android.content.DialogInterface;

public class Dialog implements DialogInterface {
    public void show() { throw new RuntimeException("Stub!"); }

    @Override
    public void cancel() { throw new RuntimeException("Stub!"); }

    @Override
    public void dismiss() { throw new RuntimeException("Stub!"); }
}
