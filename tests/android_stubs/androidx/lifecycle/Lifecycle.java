// A compile-time stub for tests/test_android_app.py: signatures transcribed from androidx.lifecycle:lifecycle-runtime and lifecycle-common 2.8.7.
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package androidx.lifecycle;

public abstract class Lifecycle {
    public Lifecycle() { throw new RuntimeException("Stub!"); }

    public abstract void addObserver(LifecycleObserver observer);

    public abstract void removeObserver(LifecycleObserver observer);

    public abstract Lifecycle.State getCurrentState();

    public enum Event { ON_CREATE, ON_START, ON_RESUME, ON_PAUSE, ON_STOP, ON_DESTROY, ON_ANY }

    public enum State { DESTROYED, INITIALIZED, CREATED, STARTED, RESUMED }
}
