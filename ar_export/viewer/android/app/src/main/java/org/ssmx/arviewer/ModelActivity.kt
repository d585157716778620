package org.ssmx.arviewer

import android.os.Bundle
import androidx.appcompat.app.AppCompatActivity
import androidx.lifecycle.lifecycleScope
import io.github.sceneview.SceneView
import io.github.sceneview.node.ModelNode
import kotlinx.coroutines.launch

/**
 * Renders the GLB bundled in assets/models/model.glb with SceneView
 * (Filament), at the size stored in the file (metres): scaleToUnits = null
 * keeps it, so a 45 cm femur stays 45 cm in the scene's units.
 */
class ModelActivity : AppCompatActivity() {

    private lateinit var sceneView: SceneView

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_model)
        sceneView = findViewById(R.id.scene_view)

        lifecycleScope.launch {
            val instance = sceneView.modelLoader.loadModelInstance(MODEL_ASSET) ?: return@launch
            val node = ModelNode(modelInstance = instance, scaleToUnits = null)
            sceneView.addChildNode(node)
        }
    }

    companion object {
        const val MODEL_ASSET = "models/model.glb"
    }
}
