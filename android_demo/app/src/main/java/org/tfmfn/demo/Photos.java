package org.tfmfn.demo;

import android.content.ClipData;
import android.content.ContentResolver;
import android.content.Intent;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.graphics.ImageDecoder;
import android.net.Uri;
import android.os.Build;
import android.provider.MediaStore;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Photos for enrolment: the system photo picker (Android 13+, or the document picker before), and a picked
 * photo read as upright ARGB pixels, its longer side at most {@link #MAX_SIDE} (the detector sees 192
 * pixels; the aligned crop needs the face, not the megapixels). From Android 9, ImageDecoder applies the
 * photo's EXIF orientation; before it, BitmapFactory does not, and a sideways photo gives no face.
 */
final class Photos {
    static final int MAX_PHOTOS = 5;
    static final int MAX_SIDE = 1280;

    /** Upright ARGB pixels of a photo. */
    static final class Pixels {
        final int[] argb;
        final int width, height;

        Pixels(int[] argb, int width, int height) {
            this.argb = argb;
            this.width = width;
            this.height = height;
        }
    }

    private Photos() {}

    /** The intent that lets the user pick up to {@link #MAX_PHOTOS} photos. */
    static Intent pickIntent() {
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) {
            return new Intent(MediaStore.ACTION_PICK_IMAGES).putExtra(MediaStore.EXTRA_PICK_IMAGES_MAX, MAX_PHOTOS);
        }
        return new Intent(Intent.ACTION_GET_CONTENT).setType("image/*").addCategory(Intent.CATEGORY_OPENABLE)
                .putExtra(Intent.EXTRA_ALLOW_MULTIPLE, true);
    }

    /** The photos a picker returned, at most {@link #MAX_PHOTOS}. */
    static List<Uri> picked(Intent data) {
        List<Uri> photos = new ArrayList<>();
        ClipData clip = data.getClipData();
        if (clip != null) {
            for (int i = 0; i < clip.getItemCount() && photos.size() < MAX_PHOTOS; i++) {
                photos.add(clip.getItemAt(i).getUri());
            }
        } else if (data.getData() != null) {
            photos.add(data.getData());
        }
        return photos;
    }

    /** A photo as upright ARGB pixels; IOException with the reason when it cannot be decoded. */
    static Pixels read(ContentResolver resolver, Uri photo) throws IOException {
        Bitmap bitmap;
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) {
            bitmap = ImageDecoder.decodeBitmap(ImageDecoder.createSource(resolver, photo), (decoder, info, source) -> {
                int width = info.getSize().getWidth(), height = info.getSize().getHeight();
                double shrink = Math.min(1.0, MAX_SIDE / (double) Math.max(width, height));
                decoder.setTargetSize(Math.max(1, (int) (width * shrink)), Math.max(1, (int) (height * shrink)));
                decoder.setAllocator(ImageDecoder.ALLOCATOR_SOFTWARE);
            });
        } else {
            try (InputStream stream = resolver.openInputStream(photo)) {
                bitmap = BitmapFactory.decodeStream(stream);
            }
            if (bitmap == null) {
                throw new IOException("not an image this device can decode");
            }
            int side = Math.max(bitmap.getWidth(), bitmap.getHeight());
            if (side > MAX_SIDE) {
                bitmap = Bitmap.createScaledBitmap(bitmap, bitmap.getWidth() * MAX_SIDE / side,
                        bitmap.getHeight() * MAX_SIDE / side, true);
            }
        }
        int width = bitmap.getWidth(), height = bitmap.getHeight();
        int[] argb = new int[width * height];
        bitmap.getPixels(argb, 0, width, 0, 0, width, height);
        bitmap.recycle();
        return new Pixels(argb, width, height);
    }
}
