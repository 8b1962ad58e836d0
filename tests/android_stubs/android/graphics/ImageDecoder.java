// A compile-time stub for tests/test_android_app.py: signatures transcribed from Android API 35 (android.jar of compileSdk 35, Android 15), developer.android.com/reference.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package android.graphics;

import android.content.ContentResolver;
import android.net.Uri;
import android.util.Size;
import java.io.IOException;

public final class ImageDecoder implements AutoCloseable {
    ImageDecoder() { throw new RuntimeException("Stub!"); }

    public static final int ALLOCATOR_SOFTWARE = 1;

    public abstract static class Source {
        Source() { throw new RuntimeException("Stub!"); }
    }

    public static class ImageInfo {
        ImageInfo() { throw new RuntimeException("Stub!"); }

        public Size getSize() { throw new RuntimeException("Stub!"); }
    }

    public interface OnHeaderDecodedListener {
        void onHeaderDecoded(ImageDecoder decoder, ImageDecoder.ImageInfo info, ImageDecoder.Source source);
    }

    public static ImageDecoder.Source createSource(ContentResolver cr, Uri uri) { throw new RuntimeException("Stub!"); }

    public static Bitmap decodeBitmap(ImageDecoder.Source src, ImageDecoder.OnHeaderDecodedListener listener) throws IOException { throw new RuntimeException("Stub!"); }

    public void setTargetSize(int width, int height) { throw new RuntimeException("Stub!"); }

    public void setAllocator(int allocator) { throw new RuntimeException("Stub!"); }

    @Override
    public void close() { throw new RuntimeException("Stub!"); }
}
