package org.tfmfn.demo;

import android.graphics.Insets;
import android.os.Build;
import android.view.View;
import android.view.WindowInsets;

/**
 * Keeps a screen's content clear of the status bar, the navigation bar and display cutouts. With
 * targetSdk 35, Android 15 draws every window edge to edge: without this the bottom rows of buttons
 * would sit under the navigation bar. The root view is padded by the insets the system reports
 * (API 30+: system bars and cutout; before: the system window insets), on top of its own padding.
 *
 * <pre>{@code
 * setContentView(R.layout.activity_main);
 * SystemBars.keepClear(findViewById(R.id.root));
 * }</pre>
 */
final class SystemBars {
    private SystemBars() {}

    static void keepClear(View root) {
        int left = root.getPaddingLeft(), top = root.getPaddingTop();
        int right = root.getPaddingRight(), bottom = root.getPaddingBottom();
        root.setOnApplyWindowInsetsListener((view, insets) -> {
            if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
                Insets bars = insets.getInsets(WindowInsets.Type.systemBars() | WindowInsets.Type.displayCutout());
                view.setPadding(left + bars.left, top + bars.top, right + bars.right, bottom + bars.bottom);
            } else {
                view.setPadding(left + insets.getSystemWindowInsetLeft(), top + insets.getSystemWindowInsetTop(),
                        right + insets.getSystemWindowInsetRight(), bottom + insets.getSystemWindowInsetBottom());
            }
            return insets;
        });
        root.requestApplyInsets();
    }
}
