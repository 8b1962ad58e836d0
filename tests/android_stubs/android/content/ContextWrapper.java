// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.content;

import android.content.res.AssetManager;
import android.content.res.Resources;
import java.io.File;

public class ContextWrapper extends Context {
    public ContextWrapper(Context base) { throw new RuntimeException("Stub!"); }

    @Override
    public AssetManager getAssets() { throw new RuntimeException("Stub!"); }

    @Override
    public Resources getResources() { throw new RuntimeException("Stub!"); }

    @Override
    public File getFilesDir() { throw new RuntimeException("Stub!"); }

    @Override
    public ContentResolver getContentResolver() { throw new RuntimeException("Stub!"); }

    @Override
    public String getPackageName() { throw new RuntimeException("Stub!"); }

    @Override
    public void startActivity(Intent intent) { throw new RuntimeException("Stub!"); }

    @Override
    public int checkSelfPermission(String permission) { throw new RuntimeException("Stub!"); }
}
