package org.tfmfn.demo;

import android.content.Context;
import android.graphics.Canvas;
import android.graphics.Color;
import android.graphics.Paint;
import android.util.AttributeSet;
import android.view.View;
import java.util.Collections;
import java.util.List;
import org.tfmfn.facecore.BlazeFace;

/**
 * Draws the detected faces over the camera preview: boxes, keypoints and each face's label in its
 * colour. Frame coordinates are mapped the way PreviewView's default FILL_CENTER scales the preview
 * (and mirrored for the front camera).
 */
public final class OverlayView extends View {
    private final Paint box = new Paint(), point = new Paint(), text = new Paint();
    private List<BlazeFace.Detection> faces = Collections.emptyList();
    private List<String> labels = Collections.emptyList();
    private List<Integer> colors = Collections.emptyList();
    private int frameWidth = 1, frameHeight = 1;
    private boolean mirrored;

    public OverlayView(Context context, AttributeSet attributes) {
        super(context, attributes);
        box.setStyle(Paint.Style.STROKE);
        box.setStrokeWidth(4 * getResources().getDisplayMetrics().density);
        point.setColor(Color.YELLOW);
        text.setTextSize(20 * getResources().getDisplayMetrics().scaledDensity);
        text.setShadowLayer(4, 0, 0, Color.BLACK);
    }

    /** Shows {@code faces} of a frame of the given size, with a label and a colour each (same order). */
    void show(List<BlazeFace.Detection> faces, int frameWidth, int frameHeight, boolean mirrored, List<String> labels,
              List<Integer> colors) {
        this.faces = faces;
        this.frameWidth = frameWidth;
        this.frameHeight = frameHeight;
        this.mirrored = mirrored;
        this.labels = labels;
        this.colors = colors;
        invalidate();
    }

    @Override
    protected void onDraw(Canvas canvas) {
        float scale = Math.max(getWidth() / (float) frameWidth, getHeight() / (float) frameHeight);
        float offsetX = (getWidth() - frameWidth * scale) / 2, offsetY = (getHeight() - frameHeight * scale) / 2;
        float radius = 3 * getResources().getDisplayMetrics().density;
        for (int i = 0; i < faces.size(); i++) {
            BlazeFace.Detection face = faces.get(i);
            float left = x(face.box[0], scale, offsetX), right = x(face.box[2], scale, offsetX);
            float top = face.box[1] * scale + offsetY, bottom = face.box[3] * scale + offsetY;
            int color = i < colors.size() ? colors.get(i) : Color.LTGRAY;
            box.setColor(color);
            canvas.drawRect(Math.min(left, right), top, Math.max(left, right), bottom, box);
            for (int k = 0; k < 6; k++) {
                canvas.drawCircle(x(face.keypoints[2 * k], scale, offsetX),
                        face.keypoints[2 * k + 1] * scale + offsetY, radius, point);
            }
            String label = i < labels.size() ? labels.get(i) : "";
            if (!label.isEmpty()) {
                text.setColor(color);
                canvas.drawText(label, Math.min(left, right), top - text.getTextSize() / 3, text);
            }
        }
    }

    private float x(float frameX, float scale, float offsetX) {
        float viewX = frameX * scale + offsetX;
        return mirrored ? getWidth() - viewX : viewX;
    }
}
