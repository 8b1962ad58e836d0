// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.content;

import android.content.res.AssetManager;
import android.content.res.Resources;
import java.io.File;

public abstract class Context {
    public Context() { throw new RuntimeException("Stub!"); }

    public abstract AssetManager getAssets();

    public abstract Resources getResources();

    public abstract File getFilesDir();

    public abstract ContentResolver getContentResolver();

    public abstract String getPackageName();

    public abstract void startActivity(Intent intent);

    public abstract int checkSelfPermission(String permission);

    public final String getString(int resId) { throw new RuntimeException("Stub!"); }

    public final String getString(int resId, Object... formatArgs) { throw new RuntimeException("Stub!"); }
}
