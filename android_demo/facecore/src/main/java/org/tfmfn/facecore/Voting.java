package org.tfmfn.facecore;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.IntPredicate;

/**
 * Decisions about a tracked face ({@link FaceTracker}) instead of about each frame. Every frame casts a
 * vote: the best-scoring enrolled person when their score is below the mode's threshold, or nobody. A
 * track is decided once {@code agree} of its last {@code 2 agree - 1} votes name the same outcome (a
 * majority of the window): accepted as that person, or rejected. A decision is final for the track: a
 * face in front of the camera gets one decision, not one try per frame; it leaves and comes back for
 * another.
 *
 * <p>The false accept rate of a decision ({@link #decisionFar}), from the rate p measured per image
 * pair at the threshold (the metadata's operating point): if the frames of an impostor were
 * independent images, k agreeing votes of 2k - 1 would need k false matches, at most
 * {@code candidates * P(Binomial(2k - 1, p) >= k)}; frames of a face that holds still are nearly the
 * same image, and then the votes are one comparison repeated: {@code candidates * p}. The app shows
 * the second, the honest bound; candidates are the enrolled people a probe is compared with (1 for
 * 1:1, everyone for 1:N).
 *
 * <pre>{@code
 * Voting voting = new Voting(3);                                   // 3 agreeing of the last 5 frames
 * Voting.Verdict verdict = voting.vote(trackId, match == null ? null : match.name);
 * if (verdict.state == Voting.State.ACCEPTED) ...
 * double[] far = Voting.decisionFar(1e-3, 3, 1);                  // {frames alike, frames independent}
 * }</pre>
 */
public final class Voting {
    /** Votes that decide, of a window of 2 AGREE - 1 frames. */
    public static final int AGREE = 3;

    public enum State { PENDING, ACCEPTED, REJECTED }

    /** Where a track stands: pending with its votes so far, or decided for a person or for nobody. */
    public static final class Verdict {
        public final State state;
        /** The accepted person; null when pending or rejected. */
        public final String person;
        /** Votes for the leading outcome and the votes in the window. */
        public final int leading, votes;

        Verdict(State state, String person, int leading, int votes) {
            this.state = state;
            this.person = person;
            this.leading = leading;
            this.votes = votes;
        }
    }

    private static final String NOBODY = "\u0000nobody";
    private final int agree, window;
    private final Map<Integer, Deque<String>> votes = new HashMap<>();
    private final Map<Integer, Verdict> decided = new HashMap<>();

    public Voting(int agree) {
        if (agree < 1) {
            throw new IllegalArgumentException("a decision needs at least one agreeing vote, got " + agree);
        }
        this.agree = agree;
        this.window = 2 * agree - 1;
    }

    /** Adds track {@code track}'s vote of this frame (a person, or null for nobody); returns its verdict. */
    public Verdict vote(int track, String person) {
        Verdict done = decided.get(track);
        if (done != null) {
            return done;
        }
        Deque<String> recent = votes.computeIfAbsent(track, key -> new ArrayDeque<>());
        recent.addLast(person == null ? NOBODY : person);
        if (recent.size() > window) {
            recent.removeFirst();
        }
        String leader = null;
        int most = 0;
        for (String candidate : recent) {
            int count = 0;
            for (String other : recent) {
                if (Objects.equals(candidate, other)) count++;
            }
            if (count > most) {
                most = count;
                leader = candidate;
            }
        }
        if (most < agree) {
            return new Verdict(State.PENDING, null, most, recent.size());
        }
        Verdict verdict = NOBODY.equals(leader) ? new Verdict(State.REJECTED, null, most, recent.size())
                : new Verdict(State.ACCEPTED, leader, most, recent.size());
        decided.put(track, verdict);
        votes.remove(track);
        return verdict;
    }

    /** Forgets a track that ended. */
    public void forget(int track) {
        votes.remove(track);
        decided.remove(track);
    }

    /** Forgets the tracks that {@code alive} no longer follows (a FaceTracker's {@code alive}). */
    public void forgetUnless(IntPredicate alive) {
        votes.keySet().removeIf(track -> !alive.test(track));
        decided.keySet().removeIf(track -> !alive.test(track));
    }

    /** Forgets every track (a new mode, another person to verify). */
    public void reset() {
        votes.clear();
        decided.clear();
    }

    /**
     * {frames alike, frames independent}: the false accept rate of one decision of {@code agree} votes of
     * {@code 2 agree - 1}, from the rate {@code perPair} per compared pair, with {@code candidates}
     * people compared (see the class comment).
     */
    public static double[] decisionFar(double perPair, int agree, int candidates) {
        if (!(perPair >= 0 && perPair <= 1) || agree < 1 || candidates < 1) {
            throw new IllegalArgumentException("need 0 <= perPair <= 1, agree >= 1, candidates >= 1");
        }
        int frames = 2 * agree - 1;
        double independent = 0;
        for (int k = agree; k <= frames; k++) {
            independent += binomial(frames, k) * Math.pow(perPair, k) * Math.pow(1 - perPair, frames - k);
        }
        return new double[] {Math.min(1, candidates * perPair), Math.min(1, candidates * independent)};
    }

    /** The line the app shows: the bound per decision and what it assumes. */
    public static String describe(double perPair, int agree, int candidates) {
        double[] far = decisionFar(perPair, agree, candidates);
        return String.format(Locale.US, "a decision: %d of %d frames agree; FAR <= %s per decision (%s), %s if frames "
                + "were independent", agree, 2 * agree - 1, rate(far[0]),
                candidates == 1 ? "one person compared" : candidates + " people compared", rate(far[1]));
    }

    private static String rate(double value) {
        return value == 0 ? "0" : String.format(Locale.US, "%.0e", value).replace("e-0", "e-");
    }

    private static double binomial(int n, int k) {
        double result = 1;
        for (int i = 1; i <= k; i++) {
            result = result * (n - k + i) / i;
        }
        return result;
    }
}
