// A compile-time stub for tests/test_android_app.py: signatures transcribed from com.google.guava:listenablefuture 1.0 (Guava's ListenableFuture, which CameraX returns).
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package com.google.common.util.concurrent;

import java.util.concurrent.Executor;
import java.util.concurrent.Future;

public interface ListenableFuture<V> extends Future<V> {
    void addListener(Runnable listener, Executor executor);
}
