plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "org.ssmx.arviewer"
    compileSdk = 34

    defaultConfig {
        applicationId = "org.ssmx.arviewer"
        minSdk = 24
        targetSdk = 34
        versionCode = 1
        versionName = "0.1.0"
        // Where Scene Viewer downloads the model from: Scene Viewer runs in the
        // Google app and reads the model over HTTP(S), not from this APK. Point
        // it at model.glb of an `ssmx export --viewer DIR` folder served on
        // your network, or at an HTTPS host.
        buildConfigField("String", "MODEL_URL", "\"https://example.org/ssmx/model.glb\"")
    }

    buildFeatures {
        buildConfig = true
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions {
        jvmTarget = "17"
    }
    androidResources {
        // Keep .glb assets uncompressed so they can be memory-mapped.
        noCompress += "glb"
    }
}

dependencies {
    implementation("androidx.appcompat:appcompat:1.7.0")
    implementation("androidx.lifecycle:lifecycle-runtime-ktx:2.8.4")
    // SceneView (Filament) renders the bundled GLB inside the app.
    implementation("io.github.sceneview:sceneview:2.2.1")
}
