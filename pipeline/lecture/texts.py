"""The lecture's words for each claim: a Spanish quote from the slides and an English gloss."""

from __future__ import annotations

QUOTES: dict[str, tuple[str, str]] = {
    "a": (
        "Dada una secuencia de palabras, el modelo debe predecir la siguiente palabra: "
        "El gobierno aprobó un ... La capa de salida utiliza la función softmax.",
        "Given a sequence of words, the model predicts the next word; the output layer's "
        "softmax ranks every word of the vocabulary.",
    ),
    "b": (
        "El embedding para cada token se obtiene multiplicando su vector one-hot y la matriz E.",
        "A token's embedding is its one-hot vector times the embedding matrix E.",
    ),
    "c": (
        "Algunos métodos de inicialización aleatoria son: zero-initialization, random "
        "initialization (normal o uniforme), xavier initialization, he-et-al initialization.",
        "The embedding (and weight) matrices can start from zeros, normal or uniform noise, "
        "Xavier/Glorot or He; the slide's numpy snippet draws a Glorot-uniform E.",
    ),
    "d": (
        "La función softmax devuelve un vector de tamaño |V| ... La suma de las "
        "probabilidades es 1.",
        "Softmax returns |V| probabilities, one per vocabulary token, and they sum to 1.",
    ),
    "e": (
        "En otras tareas distintas a la predicción del siguiente token, siempre es recomendable "
        "añadir una capa que pueda leer la secuencia de derecha a izquierda.",
        "For tasks other than next-word prediction, add a layer that reads right to left "
        "(a bidirectional RNN).",
    ),
    "f": (
        "No es capaz de procesar correctamente secuencias largas. La red tiende a olvidar la "
        "información de las primeras neuronas ... LSTM pueden capturar dependencias entre "
        "elementos distantes.",
        'A vanilla RNN forgets what it read long ago ("Mi padre nació en Pontevedra ... Él '
        'habla un perfecto gallego"); LSTM (and GRU) keep long dependencies.',
    ),
    "g": (
        "Los valores de las derivadas de tanh siempre están entre 0 y 1. Sigmoidea produce "
        "gradientes aún más pequeños (valores entre 0 y 0.25).",
        "tanh' lies in (0, 1] and sigmoid' in (0, 0.25], so gradients through a sigmoid RNN "
        "vanish over time steps faster than through a tanh RNN.",
    ),
    "h": (
        "GRU ... sólo utilizan dos puertas: updated gate y reset gate ... Como son más "
        "sencillas que las LSTM, son más eficientes.",
        "GRU has two gates (LSTM three), so it is simpler and cheaper than LSTM.",
    ),
    "i": (
        "Si es demasiado pequeño, el método tardará mucho tiempo en encontrar la solución "
        "óptima. Si es demasiado grande ... será muy difícil encontrar los parámetros que "
        "minimicen la función de coste.",
        "A learning rate too small converges slowly; one too large cannot find the minimum.",
    ),
    "j": (
        "Posibles soluciones: ... Usar la función de activación RELU y usar normalización en "
        "los lotes.",
        "ReLU activations (and normalisation) are remedies for vanishing gradients.",
    ),
    "k": (
        "Otros ejemplos de aplicaciones de RNN en PLN: subtitulado de imágenes, clasificación "
        "de textos, traducción automática (Seq2Seq), reconocimiento de entidades.",
        "RNNs serve many NLP applications: captioning, text classification, seq2seq, named "
        "entities and next-word prediction.",
    ),
}
"""Claim id -> (quote_es, gloss_en)."""

GLOROT_SNIPPET = """import math
import numpy as np
np.random.seed(0)
scale = 1/max(1., (2+2)/2.)
limit = math.sqrt(3.0 * scale)
weights = np.random.uniform(-limit, limit, size=(9,4))
print(weights)"""
"""The slide's code that draws a 9 x 4 embedding matrix E (|V| = 9, d = 4)."""

GLOROT_PRINTED = (
    (0.11956818, 0.52710415, 0.25171784, 0.1099409),
    (-0.18700679, 0.35736613, -0.15287949, 0.95964395),
    (1.13573718, -0.2855088, 0.71457749, 0.07077781),
    (0.16667445, 1.0424946, -1.05074278, -1.01132255),
    (-1.17522011, 0.8147489, 0.68134211, 0.90634096),
    (1.17237072, 0.73278583, -0.09435591, 0.68715334),
    (-0.93503288, 0.34273511, -0.87360246, 1.08921195),
    (0.05351724, -0.2090347, -0.57671861, 0.67173261),
    (-0.10740931, 0.16762826, -1.17871945, 0.28814694),
)
"""The matrix the slide prints for the snippet (8 decimals)."""
