// A compile-time stub for tests/test_android_app.py: signatures transcribed from LiteRT 1.4.1 (com.google.ai.edge.litert:litert 1.4.1, package org.tensorflow.lite).
// Bodies throw, as android.jar's do; only the members the demo app uses (and their close kin) are here.
package org.tensorflow.lite;

public enum DataType {
    FLOAT32, INT32, UINT8, INT64, STRING, BOOL, INT16, INT8;

    public int byteSize() { throw new RuntimeException("Stub!"); }
}
