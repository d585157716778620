package org.ssmx.arviewer

import android.content.Intent
import android.net.Uri

/**
 * Builds the intent that opens a GLB in ARCore Scene Viewer at true size.
 *
 * The parameters are the documented Scene Viewer ones: mode=ar_preferred
 * (AR when the phone supports it, 3D otherwise) and resizable=false (no
 * pinch-to-scale: the bone keeps its real size, as ssmx exports it in metres).
 */
object SceneViewerIntent {
    const val SCENE_VIEWER_PACKAGE = "com.google.android.googlequicksearchbox"

    fun uri(modelUrl: String, title: String): Uri =
        Uri.parse("https://arvr.google.com/scene-viewer/1.0").buildUpon()
            .appendQueryParameter("file", modelUrl)
            .appendQueryParameter("mode", "ar_preferred")
            .appendQueryParameter("resizable", "false")
            .appendQueryParameter("title", title)
            .build()

    fun create(modelUrl: String, title: String): Intent =
        Intent(Intent.ACTION_VIEW).apply {
            data = uri(modelUrl, title)
            setPackage(SCENE_VIEWER_PACKAGE)
        }
}
