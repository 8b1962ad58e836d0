// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.content.res;

import java.io.IOException;
import java.io.InputStream;

public final class AssetManager implements AutoCloseable {
    AssetManager() { throw new RuntimeException("Stub!"); }

    public String[] list(String path) throws IOException { throw new RuntimeException("Stub!"); }

    public InputStream open(String fileName) throws IOException { throw new RuntimeException("Stub!"); }

    @Override
    public void close() { throw new RuntimeException("Stub!"); }
}
