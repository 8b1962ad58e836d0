// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.content;

public class Intent {
    public Intent(Context packageContext, Class<?> cls) { throw new RuntimeException("Stub!"); }

    public Intent putExtra(String name, String value) { throw new RuntimeException("Stub!"); }

    public Intent putExtra(String name, int value) { throw new RuntimeException("Stub!"); }

    public String getStringExtra(String name) { throw new RuntimeException("Stub!"); }

    public int getIntExtra(String name, int defaultValue) { throw new RuntimeException("Stub!"); }
}
