// Protocol schemas use zod/mini (small browser bundles). Mini carries no error messages of its
// own: load zod's English ones (only those: `z.locales` would pull in every language), so every
// BAD_MESSAGE says why ("Too small: expected ..."), as classic zod does (which loads them
// itself; the setting is shared).
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

z.config(en());
