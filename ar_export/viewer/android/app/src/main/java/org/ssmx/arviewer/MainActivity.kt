package org.ssmx.arviewer

import android.content.ActivityNotFoundException
import android.content.Intent
import android.os.Bundle
import android.widget.Button
import android.widget.Toast
import androidx.appcompat.app.AppCompatActivity

/**
 * Two ways to look at a bone exported by `ssmx export`:
 *  - "View in AR": ARCore Scene Viewer through an intent (needs the Google app
 *    and a model URL it can download, BuildConfig.MODEL_URL);
 *  - "View in 3D": ModelActivity renders the GLB bundled in assets/models.
 */
class MainActivity : AppCompatActivity() {

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)

        findViewById<Button>(R.id.view_in_ar).setOnClickListener {
            val intent = SceneViewerIntent.create(BuildConfig.MODEL_URL, getString(R.string.model_title))
            try {
                startActivity(intent)
            } catch (e: ActivityNotFoundException) {
                Toast.makeText(this, R.string.no_scene_viewer, Toast.LENGTH_LONG).show()
            }
        }

        findViewById<Button>(R.id.view_in_3d).setOnClickListener {
            startActivity(Intent(this, ModelActivity::class.java))
        }
    }
}
