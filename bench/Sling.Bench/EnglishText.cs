using System.Text;

namespace Sling.Bench;

/// <summary>English-like text for tokenizer timing: sentences of common words with punctuation, in random order.</summary>
internal static class EnglishText
{
    private static readonly string[] Words = ("the of and to a in is it you that he was for on are with as I his they be at one have this from or had by " +
        "word but what some we can out other were all there when up use your how said an each she which do their time if will way about many then " +
        "them write would like so these her long make thing see him two has look more day could go come did number sound no most people my over know " +
        "water than call first who may down side been now find any new work part take get place made live where after back little only round man year " +
        "came show every good me give our under name very through just form sentence great think say help low line differ turn cause much mean before " +
        "move right boy old too same tell does set three want air well also play small end put home read hand port large spell add even land here must " +
        "big high such follow act why ask men change went light kind off need house picture try us again animal point mother world near build self earth " +
        "father head stand own page should country found answer school grow study still learn plant cover food sun four between state keep eye never last " +
        "let thought city tree cross farm hard start might story saw far sea draw left late run don't while press close night real life few north Lily " +
        "Timmy garden quickly happily beautiful 2024 3.14 children's e-mail").Split(' ');

    public static string Generate(int bytes, int seed)
    {
        var rng = new Random(seed);
        var text = new StringBuilder(bytes + 200);
        while (text.Length < bytes)
        {
            int length = rng.Next(5, 18);
            for (int i = 0; i < length; i++)
            {
                string w = Words[rng.Next(Words.Length)];
                text.Append(i == 0 ? char.ToUpperInvariant(w[0]) + w[1..] : w);
                text.Append(i == length - 1 ? (rng.Next(6) == 0 ? "?" : ".") : rng.Next(9) == 0 ? ", " : " ");
            }
            text.Append(rng.Next(5) == 0 ? "\n\n" : " ");
        }
        return text.ToString();
    }
}
