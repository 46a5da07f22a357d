"""CIFAR-100 label names, in the order of the real ``meta`` file."""

from __future__ import annotations

FINE_LABEL_NAMES: tuple[str, ...] = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle",
    "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear",
    "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon",
    "ray", "road", "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail",
    "snake", "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone",
    "television", "tiger", "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale",
    "willow_tree", "wolf", "woman", "worm",
)  # fmt: skip

COARSE_LABEL_NAMES: tuple[str, ...] = (
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
    "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
    "vehicles_1", "vehicles_2",
)  # fmt: skip

# Coarse label of every fine class this generator draws (as in the real CIFAR-100).
COARSE_OF_FINE: dict[str, str] = {
    "bicycle": "vehicles_1",
    "bus": "vehicles_1",
    "motorcycle": "vehicles_1",
    "pickup_truck": "vehicles_1",
    "tractor": "vehicles_2",
}

GENERATED_CLASSES: tuple[str, ...] = tuple(sorted(COARSE_OF_FINE))


def fine_label(name: str) -> int:
    """Index of a fine class name in CIFAR-100."""
    return FINE_LABEL_NAMES.index(name)


def coarse_label(name: str) -> int:
    """Index of the coarse class that CIFAR-100 files a fine class under."""
    return COARSE_LABEL_NAMES.index(COARSE_OF_FINE[name])
